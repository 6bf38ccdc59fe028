# Hands over to the root's init. The pseudo filesystems move with it, so /run keeps the
# medium, lower and upper mounts visible under /run/flashroot.

# systemd stops every mount unit at shutdown; ours hold the root and cannot be unmounted under it,
# so each stop would print a red "Failed unmounting". Runtime drop-ins (in /run, which moves into
# the root) exempt them; written only for a systemd root, since /run/systemd/system tells programs
# that systemd is running.
fr_keep_mounts_at_shutdown() {
	fr_root_is_systemd || return 0
	for fr_mp in $(awk '$2 ~ /^\/run\/flashroot\// { print $2 }' /proc/mounts); do
		fr_unit=$(echo "${fr_mp#/}" | tr / -).mount
		mkdir -p "/run/systemd/system/$fr_unit.d"
		printf '[Unit]\nDefaultDependencies=no\n' >"/run/systemd/system/$fr_unit.d/flashroot.conf"
	done
}

fr_step_switch_root() {
	[ -x "/newroot$FR_INIT" ] || [ -L "/newroot$FR_INIT" ] ||
		fr_fail switch_root "the root has no executable $FR_INIT" "boot with flashroot.init=PATH, or rebuild from a root that has it"
	fr_break_point preswitch
	fr_coldplug_done
	fr_umount_modules
	fr_keep_mounts_at_shutdown
	for fr_m in run dev sys proc; do
		mkdir -p "/newroot/$fr_m"
		mount --move "/$fr_m" "/newroot/$fr_m" ||
			fr_fail switch_root "cannot move /$fr_m into the new root" "report this as a bug"
	done
	fr_log "switching to the root ($FR_INIT)"
	exec switch_root /newroot ${FR_ROOT_INIT_VIA:+"$FR_ROOT_INIT_VIA"} "$FR_INIT"
}
