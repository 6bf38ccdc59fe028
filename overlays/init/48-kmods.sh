# needs: module-groups=fs
# The kernel's modules as a layer of their own (built for a root that has none for this kernel):
# a second squashfs on the stick, stacked under the root by the overlay step, so the booted
# system's modprobe finds every module of the kernel it runs. Mounted before the root's lower
# because flashroot.toram unmounts the stick there; with toram the layer is copied to RAM too.

FR_KMODS_DIR=

fr_step_kmods() {
	[ -n "$FR_KMODS" ] || return 0
	[ -n "$FR_MEDIUM_DEV" ] || return 0
	fr_kimg=/run/flashroot/medium$FR_KMODS
	[ -f "$fr_kimg" ] ||
		fr_fail kmods "no $FR_KMODS on $FR_MEDIUM_DEV" "is this the stick the initramfs was built for? rebuild it with flashroot build"
	case "$FR_TORAM" in
	'' | 0 | no) ;;
	# /run moves into the booted system, so the copy lives as long as the mount.
	*) if cp "$fr_kimg" /run/flashroot/modules.sqfs; then fr_kimg=/run/flashroot/modules.sqfs; else rm -f /run/flashroot/modules.sqfs; fi ;;
	esac
	mkdir -p /run/flashroot/kmods
	mount -t squashfs -o ro,loop "$fr_kimg" /run/flashroot/kmods ||
		fr_fail kmods "cannot mount $FR_KMODS as squashfs" "the image may be damaged: rebuild or reflash the stick"
	FR_KMODS_DIR=/run/flashroot/kmods
	fr_log "modules layer $FR_KMODS"
}
