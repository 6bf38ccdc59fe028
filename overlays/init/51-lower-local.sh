# needs: module-groups=fs
# Lower layer "local": the squashfs file on the stick, loop-mounted read-only.

fr_lower_local() {
	fr_img=/run/flashroot/medium$FR_SQFS
	[ -f "$fr_img" ] ||
		fr_fail lower "no $FR_SQFS on $FR_MEDIUM_DEV" "is this a flashroot stick? check flashroot.sqfs= or rebuild it"
	mount -t squashfs -o ro,loop "$fr_img" /run/flashroot/lower ||
		fr_fail lower "cannot mount $FR_SQFS as squashfs" "the image may be damaged: rebuild or reflash the stick"
}
