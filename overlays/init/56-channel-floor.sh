# After the lower of a channel mounted (46-channel.sh): raise the stick's rollback floor to the
# version that booted, only when it rises, so an ordinary boot writes nothing. One sector in
# place (dd conv=notrunc: the FAT's allocation never changes; vfat updates the file's mtime in its
# directory entry too), with the medium read-write only for that write. Then the medium is
# unmounted: a network lower leaves the stick unmounted, as without a channel (the initramfs on
# it may hold keys, and FAT has no permissions).

fr_channel_floor_text() {
	printf 'flashroot-floor 1\nchannel %s\nversion %s\n' "$1" "$2"
}

fr_step_channel_floor() {
	[ -n "$FR_CH_VERSION" ] || return 0
	if [ "$FR_CH_VERSION" -gt "$FR_CH_FLOOR" ]; then
		fr_floor=$FR_MEDIUM_MNT$FR_CH_FLOOR_PATH
		fr_new=$FR_CH_WORK/floor.new
		# NUL padding to one sector, as renderFloor writes it.
		dd if=/dev/zero of="$fr_new" bs=512 count=1 2>/dev/null
		fr_channel_floor_text "$FR_CH_NAME" "$FR_CH_VERSION" | dd of="$fr_new" conv=notrunc 2>/dev/null
		if fr_medium_rw 2>"$FR_CH_WORK/rw.err" &&
			dd if="$fr_new" of="$fr_floor" bs=512 count=1 conv=notrunc 2>"$FR_CH_WORK/rw.err"; then
			fr_log "channel $FR_CH_NAME: rollback floor raised from version $FR_CH_FLOOR to $FR_CH_VERSION on the stick (one sector)"
		else
			# The boot is good; only a later rollback to a version in between would go unnoticed.
			fr_log "warning: cannot raise the rollback floor on the stick (write-protected?): $(tail -n 1 "$FR_CH_WORK/rw.err")"
		fi
		fr_medium_ro
	fi
	umount "$FR_MEDIUM_MNT" && FR_MEDIUM_DEV=
}
