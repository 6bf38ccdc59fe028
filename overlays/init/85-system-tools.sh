# What flashroot leaves running in the booted system (saves, slot confirmation): the tree of
# overlays/system/, staged at /lib/flashroot/system, is copied to /run/flashroot (which moves into
# the root) with this busybox, since the root may have none. Earlier steps register what to run:
# FR_SYSTEM_UNITS (systemd units in systemd/; a "# flashroot-wanted-by: TARGET" line enables one)
# and FR_SYSTEM_DAEMONS (programs in bin/, started by start-daemons when the root's
# init is not systemd).

FR_SYSTEM_TREE=/lib/flashroot/system
FR_SYSTEM_UNITS=
FR_SYSTEM_DAEMONS=
# Where the booted system's tools live, and the root they are linked into (tests point these elsewhere).
FR_SYSTEM_RUN=/run/flashroot
FR_SYSTEM_ROOT=/newroot
FR_SYSTEMD_RUNTIME=/run/systemd/system
# Set when the root's init is started through a program of ours first (start-daemons).
FR_ROOT_INIT_VIA=

# True when the root's init is systemd (its /run/systemd/system then means "systemd is running").
fr_root_is_systemd() {
	case "$FR_INIT $(readlink "$FR_SYSTEM_ROOT$FR_INIT")" in *systemd*) return 0 ;; esac
	return 1
}

# The settings this boot runs with (baked defaults with the command line applied), for the tools.
fr_export_conf() {
	set | grep '^FR_[A-Z0-9_]*=' >"$FR_SYSTEM_RUN/conf"
}

fr_install_units() {
	for fr_unit in $FR_SYSTEM_UNITS; do
		cp "$FR_SYSTEM_TREE/systemd/$fr_unit" "$FR_SYSTEMD_RUNTIME/$fr_unit" || return 1
		for fr_target in $(sed -n 's/^# flashroot-wanted-by: *//p' "$FR_SYSTEM_TREE/systemd/$fr_unit"); do
			mkdir -p "$FR_SYSTEMD_RUNTIME/$fr_target.wants"
			ln -sf "../$fr_unit" "$FR_SYSTEMD_RUNTIME/$fr_target.wants/$fr_unit"
		done
	done
}

fr_step_system_tools() {
	[ -n "$FR_SYSTEM_UNITS$FR_SYSTEM_DAEMONS" ] || return 0
	mkdir -p "$FR_SYSTEM_RUN/bin"
	cp -a "$FR_SYSTEM_TREE/bin/." "$FR_SYSTEM_RUN/bin/" && cp /bin/busybox "$FR_SYSTEM_RUN/bin/busybox" ||
		fr_fail system_tools "cannot copy flashroot's tools to $FR_SYSTEM_RUN/bin" "boot with a larger flashroot.size= or more RAM"
	fr_export_conf
	# Commands for the person at the box; links in the tmpfs upper, never over a file of the root's.
	mkdir -p "$FR_SYSTEM_ROOT/usr/local/sbin"
	for fr_tool in "$FR_SYSTEM_RUN"/bin/flashroot-*; do
		fr_link=$FR_SYSTEM_ROOT/usr/local/sbin/${fr_tool##*/}
		[ -e "$fr_link" ] || [ -L "$fr_link" ] || ln -s "/run/flashroot/bin/${fr_tool##*/}" "$fr_link"
	done
	if fr_root_is_systemd; then
		mkdir -p "$FR_SYSTEMD_RUNTIME"
		fr_install_units || fr_fail system_tools "cannot install flashroot's systemd units ($FR_SYSTEM_UNITS)" "report this as a bug"
	elif [ -n "$FR_SYSTEM_DAEMONS" ]; then
		echo "$FR_SYSTEM_DAEMONS" >"$FR_SYSTEM_RUN/daemons"
		FR_ROOT_INIT_VIA=/run/flashroot/bin/start-daemons
	fi
	fr_debug "system tools: units='$FR_SYSTEM_UNITS' daemons='$FR_SYSTEM_DAEMONS'"
}
