# needs: module-groups=input
# Helpers every step uses: messages, failure handling, the rescue shell, the clock.

fr_log() {
	echo "flashroot: $*"
}

fr_debug() {
	[ "$FR_DEBUG" = 1 ] && echo "flashroot: debug: $*"
	return 0
}

# Seconds since boot; the clock for every deadline (there is no RTC guarantee in early boot).
fr_uptime() {
	read -r fr_up _ </proc/uptime
	echo "${fr_up%%.*}"
}

# An interactive shell on the console, with job control (cttyhack finds the real tty).
fr_shell() {
	echo "flashroot: $1"
	echo "flashroot: type 'exit' to $2"
	setsid cttyhack sh -l
}

# Every failure ends here: one line saying what failed and what to do, then the rescue shell or
# power-off as flashroot.onfail says. PID 1 must never exit: that would be a kernel panic.
fr_fail() {
	echo "flashroot: FAIL $1: $2 — $3"
	if [ "$FR_ONFAIL" = shell ]; then
		fr_shell "rescue shell (boot failed at step '$1')" "power off"
	fi
	echo "flashroot: powering off"
	sync
	poweroff -f
	# poweroff -f does not return; keep PID 1 alive if it somehow does.
	while :; do sleep 3600; done
}

fr_break_point() {
	case " $FR_BREAK " in
	*" $1 "*) fr_shell "break point '$1' (flashroot.break=$FR_BREAK)" "continue booting" ;;
	esac
}
