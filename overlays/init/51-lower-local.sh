# needs: module-groups=fs
# Lower layer "local": the squashfs file on the stick, loop-mounted read-only. With
# flashroot.toram it is copied to RAM first (so the stick can be pulled), with flashroot.verify
# its sha256 is checked against the one baked in at build time.

fr_mem_available_kib() {
	awk '/^MemAvailable:/ { print $2 }' /proc/meminfo
}

# Copies $1 to a tmpfs when it fits with room to spare. Returns 1, saying why, when it does not.
fr_copy_to_ram() {
	fr_kib=$((($(fr_bytes "$1") + 1023) / 1024))
	fr_avail=$(fr_mem_available_kib)
	# Keep a quarter of the free RAM (at least 64 MiB) for the kernel, the upper layer and the root.
	fr_margin=$((fr_avail / 4))
	[ "$fr_margin" -lt 65536 ] && fr_margin=65536
	if [ $((fr_kib + fr_margin)) -gt "$fr_avail" ]; then
		fr_log "toram: the root image needs $((fr_kib / 1024)) MiB plus $((fr_margin / 1024)) MiB to spare, but only $((fr_avail / 1024)) MiB of RAM is available"
		return 1
	fi
	mkdir -p /run/flashroot/ram
	mount -t tmpfs -o "size=$((fr_kib + 1024))k,mode=0700" tmpfs /run/flashroot/ram || return 1
	fr_log "toram: copying $((fr_kib / 1024)) MiB to RAM"
	if ! cp "$1" /run/flashroot/ram/root.sqfs; then
		umount /run/flashroot/ram
		fr_log "toram: copying the root image to RAM failed"
		return 1
	fi
}

# flashroot.toram: copies image $1 to RAM when it fits; FR_IMG is then the copy, else $1 (read
# from $2, as the fallback message says). Sets FR_IN_RAM. Network lowers use it too.
fr_toram() {
	FR_IMG=$1
	FR_IN_RAM=no
	case "$FR_TORAM" in
	'' | 0 | no) return 0 ;;
	esac
	if fr_copy_to_ram "$1"; then
		FR_IMG=/run/flashroot/ram/root.sqfs
		FR_IN_RAM=yes
	elif [ "$FR_TORAM" = strict ]; then
		fr_fail lower "the root image does not fit in RAM (flashroot.toram=strict)" "boot without flashroot.toram, or on a machine with more RAM"
	else
		fr_log "toram: running from $2 instead"
	fi
}

fr_verify_image() {
	[ -n "$FR_SQFS_SHA256" ] ||
		fr_fail verify "this initramfs has no expected sha256 for $FR_SQFS" "rebuild the stick with flashroot build"
	fr_log "verify: checking the sha256 of $FR_SQFS"
	fr_sum=$(sha256sum "$1")
	fr_sum=${fr_sum%% *}
	[ "$fr_sum" = "$FR_SQFS_SHA256" ] ||
		fr_fail verify "$FR_SQFS has sha256 $fr_sum, expected $FR_SQFS_SHA256" "the stick is damaged or was modified: reflash it"
	fr_log "verify: sha256 ok"
}

fr_lower_local() {
	fr_img=/run/flashroot/medium$FR_SQFS
	[ -f "$fr_img" ] ||
		fr_fail lower "no $FR_SQFS on $FR_MEDIUM_DEV" "is this a flashroot stick? check flashroot.sqfs= or rebuild it"
	fr_toram "$fr_img" "the stick"
	fr_img=$FR_IMG
	[ "$FR_VERIFY" = 1 ] && fr_verify_image "$fr_img"
	mount -t squashfs -o ro,loop "$fr_img" /run/flashroot/lower ||
		fr_fail lower "cannot mount $FR_SQFS as squashfs" "the image may be damaged: rebuild or reflash the stick"
	if [ "$FR_IN_RAM" = yes ]; then
		umount /run/flashroot/medium && fr_log "toram: the root runs from RAM; the stick can be removed"
	fi
	return 0
}
