# needs: module-groups=input
# Helpers every step uses: messages, failure handling, the rescue shell, the clock.

# One line for the person at the box, on every console the kernel writes to (FR_CONSOLES, set by
# fr_step_consoles): /dev/console is only the last console=, so an echo there reaches the serial
# line or the screen, never both. Until the consoles are known (and in tests), stdout.
fr_say() {
	if [ -z "$FR_CONSOLES" ]; then
		echo "$*"
		return 0
	fi
	# Appending is the same as writing on a tty, and keeps a test's stand-in file whole.
	for fr_c in $FR_CONSOLES; do
		echo "$*" >>"$fr_c" 2>/dev/null
	done
	return 0
}

fr_log() {
	fr_say "flashroot: $*"
}

fr_debug() {
	[ "$FR_DEBUG" = 1 ] && fr_say "flashroot: debug: $*"
	return 0
}

# The size of file or block device "$1" in bytes (stat says 0 for a device: nbdkit's image).
fr_bytes() {
	if [ -b "$1" ]; then blockdev --getsize64 "$1"; else stat -c %s "$1"; fi
}

# Seconds since boot; the clock for every deadline (there is no RTC guarantee in early boot).
fr_uptime() {
	read -r fr_up _ </proc/uptime
	echo "${fr_up%%.*}"
}

# A pause of "$1" seconds (fractions allowed) that starts no process, for polls: busybox's sleep
# is a fork and an exec of busybox at every call.
FR_NAP_FIFO=/run/flashroot/nap
fr_nap() {
	[ -p "$FR_NAP_FIFO" ] || mkfifo "$FR_NAP_FIFO"
	# shellcheck disable=SC3045 # busybox's read has -t, with fractions
	read -r -t "$1" _ <>"$FR_NAP_FIFO"
	return 0
}

# True while process $1 runs: a child that exited stays a zombie until reaped, and kill -0 would
# still succeed on it.
fr_alive() {
	fr_st=Z
	[ -r "/proc/$1/stat" ] && read -r _ _ fr_st _ <"/proc/$1/stat"
	[ "$fr_st" != Z ]
}

# An interactive shell with job control on each console at once (setsid -c makes the console its
# controlling tty), so the person types wherever they are: the screen and keyboard, or a serial
# line. The shells are independent; the first to exit ends the pause, and the others are killed
# with their sessions, so no forgotten shell keeps a console under the booted system.
fr_shell() {
	fr_coldplug_done
	fr_log "$1"
	fr_log "type 'exit' to $2"
	if [ -z "$FR_CONSOLES" ]; then
		setsid cttyhack sh -l
		return 0
	fi
	fr_pids=
	for fr_c in $FR_CONSOLES; do
		# Read-write like getty opens a tty; sh -l inherits it as stdin, stdout and stderr.
		setsid -c sh -l 0<>"$fr_c" 1>&0 2>&0 &
		fr_pids="$fr_pids $!"
	done
	fr_left=1
	while [ "$fr_left" = 1 ]; do
		for fr_p in $fr_pids; do
			fr_alive "$fr_p" || fr_left=0
		done
		[ "$fr_left" = 1 ] && sleep 0.2
	done
	for fr_p in $fr_pids; do
		kill -KILL -- "-$fr_p" 2>/dev/null || kill -KILL "$fr_p" 2>/dev/null
	done
	wait
	fr_log "shell closed; $2"
}

# Every failure ends here: one line saying what failed and what to do, then the rescue shell or
# power-off as flashroot.onfail says. PID 1 must never exit: that would be a kernel panic.
fr_fail() {
	fr_log "FAIL $1: $2 — $3"
	# A step that knows better than a shell (a slot on trial goes back to the fallback: 42-slot.sh).
	[ -z "$FR_FAIL_HOOK" ] || "$FR_FAIL_HOOK" "$1"
	if [ "$FR_ONFAIL" = shell ]; then
		fr_shell "rescue shell (boot failed at step '$1')" "power off"
	fi
	fr_log "powering off"
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
