# needs: module-groups=fs
# Waits for the stick (by FAT label or serial) until the deadline, coldplugging as USB
# enumerates, then mounts it read-only: nothing on the stick is ever written.

fr_medium_spec() {
	if [ -n "$FR_UUID" ]; then echo "UUID=$FR_UUID"; else echo "LABEL=$FR_LABEL"; fi
}

fr_find_medium() {
	fr_spec=$(fr_medium_spec)
	fr_deadline=$(($(fr_uptime) + FR_TIMEOUT))
	while :; do
		FR_MEDIUM_DEV=$(findfs "$fr_spec" 2>/dev/null) && return 0
		[ "$(fr_uptime)" -ge "$fr_deadline" ] && return 1
		fr_coldplug_waiting
		sleep 0.2
	done
}

# Finds the stick and mounts it read-only at /run/flashroot/medium (a channel's rollback floor
# lives there even when the root comes from the network: 46-channel.sh).
# Where the stick's FAT is mounted, read-only: only the few in-place writes of the slot and channel
# steps make it read-write, each for as long as its write takes (tests point this elsewhere).
FR_MEDIUM_MNT=/run/flashroot/medium

fr_medium_rw() {
	mount -o remount,rw "$FR_MEDIUM_MNT"
}

fr_medium_ro() {
	sync
	mount -o remount,ro "$FR_MEDIUM_MNT" || fr_log "warning: cannot remount the stick read-only"
}

fr_mount_medium() {
	fr_find_medium ||
		fr_fail medium "no device with $(fr_medium_spec) after ${FR_TIMEOUT}s" \
			"plug the stick in (another port?), or boot with flashroot.label=/flashroot.uuid= matching it, or a longer flashroot.timeout="
	mkdir -p /run/flashroot/medium
	mount -t vfat -o ro "$FR_MEDIUM_DEV" /run/flashroot/medium ||
		fr_fail medium "cannot mount $FR_MEDIUM_DEV (FAT) read-only" "is vfat in the initramfs? rebuild with flashroot build"
	fr_log "medium $FR_MEDIUM_DEV ($(fr_medium_spec))"
}

fr_step_medium() {
	case "$FR_LOWER" in local | toram) fr_mount_medium ;; esac
	return 0
}
