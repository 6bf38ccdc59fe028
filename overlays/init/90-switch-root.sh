# Hands over to the root's init. The pseudo filesystems move with it, so /run keeps the
# medium, lower and upper mounts visible under /run/flashroot.

fr_step_switch_root() {
	[ -x "/newroot$FR_INIT" ] || [ -L "/newroot$FR_INIT" ] ||
		fr_fail switch_root "the root has no executable $FR_INIT" "boot with flashroot.init=PATH, or rebuild from a root that has it"
	fr_break_point preswitch
	for fr_m in run dev sys proc; do
		mkdir -p "/newroot/$fr_m"
		mount --move "/$fr_m" "/newroot/$fr_m" ||
			fr_fail switch_root "cannot move /$fr_m into the new root" "report this as a bug"
	done
	fr_log "switching to the root ($FR_INIT)"
	exec switch_root /newroot "$FR_INIT"
}
