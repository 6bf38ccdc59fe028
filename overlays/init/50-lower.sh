# needs: module-groups=fs
# The read-only lower layer: the squashfs on the stick, loop-mounted.

fr_step_lower() {
	fr_break_point premount
	mkdir -p /run/flashroot/lower
	case "$FR_LOWER" in
	local)
		fr_img=/run/flashroot/medium$FR_SQFS
		[ -f "$fr_img" ] ||
			fr_fail lower "no $FR_SQFS on $FR_MEDIUM_DEV" "is this a flashroot stick? check flashroot.sqfs= or rebuild it"
		mount -t squashfs -o ro,loop "$fr_img" /run/flashroot/lower ||
			fr_fail lower "cannot mount $FR_SQFS as squashfs" "the image may be damaged: rebuild or reflash the stick"
		;;
	*)
		fr_fail lower "unknown lower layer '$FR_LOWER'" "use flashroot.lower=local"
		;;
	esac
}
