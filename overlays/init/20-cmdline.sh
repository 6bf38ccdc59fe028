# The kernel command line is the contract: flashroot.KEY=VALUE overrides the defaults baked into
# /etc/flashroot.conf at build time. Dotted parameters never reach init's environment, so read
# /proc/cmdline ourselves.

FR_KNOWN_KEYS="label uuid lower sqfs size toram verify onfail debug timeout break init modules slot confirm-after fresh save_shutdown save_every"

fr_set() {
	case "$1" in
	label) FR_LABEL=$2 ;;
	uuid) FR_UUID=$2 ;;
	lower) FR_LOWER=$2 ;;
	sqfs) FR_SQFS=$2 ;;
	size) FR_SIZE=$2 ;;
	toram) FR_TORAM=$2 ;;
	verify) FR_VERIFY=$2 ;;
	onfail) FR_ONFAIL=$2 ;;
	debug) FR_DEBUG=$2 ;;
	timeout) FR_TIMEOUT=$2 ;;
	break) FR_BREAK=$(echo "$2" | tr ',' ' ') ;;
	init) FR_INIT=$2 ;;
	modules) FR_MODULES="$FR_MODULES $(echo "$2" | tr ',' ' ')" ;;
	ip) FR_IP=$2 ;;
	slot) case "$2" in a | b) FR_SLOT=$2 ;; *) fr_log "warning: flashroot.slot=$2 is not a or b; ignored" ;; esac ;;
	confirm-after) FR_CONFIRM_AFTER=$2 ;;
	fresh) FR_FRESH=$2 ;;
	save_shutdown) FR_SAVE_SHUTDOWN=$2 ;;
	save_every) FR_SAVE_EVERY=$2 ;;
	*) return 1 ;;
	esac
}

# Parses a command line (argument 1) into FR_* variables; reports keys it does not know.
fr_parse_cmdline() {
	fr_baked_size=$FR_SIZE
	for fr_word in $1; do
		case "$fr_word" in
		flashroot.*=*) fr_key=${fr_word#flashroot.}; fr_key=${fr_key%%=*}; fr_val=${fr_word#*=} ;;
		# A bare flag means "on"; "shell" is short for onfail=shell.
		flashroot.shell) fr_key=onfail; fr_val=shell ;;
		flashroot.*) fr_key=${fr_word#flashroot.}; fr_val=1 ;;
		# The kernel's own ip= (unused by Debian's kernel) configures the network for network lowers.
		ip=*) fr_key=ip; fr_val=${fr_word#ip=} ;;
		*) continue ;;
		esac
		fr_set "$fr_key" "$fr_val" ||
			fr_log "warning: unknown parameter '$fr_word' ignored (known: $FR_KNOWN_KEYS)"
	done
	case "$FR_ONFAIL" in
	shell | poweroff) ;;
	*) fr_log "warning: flashroot.onfail=$FR_ONFAIL is not shell|poweroff; using shell"; FR_ONFAIL=shell ;;
	esac
	case "$FR_SAVE_EVERY" in
	'' | *[!0-9]*) fr_log "warning: flashroot.save_every=$FR_SAVE_EVERY is not a number of minutes; saving only on demand"; FR_SAVE_EVERY=0 ;;
	esac
	case "$FR_TIMEOUT" in
	'' | *[!0-9]*) fr_log "warning: flashroot.timeout=$FR_TIMEOUT is not a number of seconds; using 30"; FR_TIMEOUT=30 ;;
	esac
	fr_check_size || { fr_log "warning: flashroot.size=$FR_SIZE is not a size like 512M or 1-100% of RAM; using $fr_baked_size"; FR_SIZE=$fr_baked_size; }
}

# The same rules as build's --upper-size: tmpfs reads 0 as "no limit", and more than 100% of RAM
# turns a full overlay into the OOM killer.
fr_check_size() {
	case "$FR_SIZE" in
	'' | 0* | *[!0-9kmgKMG%]* | *%?* | [!0-9]* | *[kmgKMG]?* | *[kmgKMG]%) return 1 ;;
	*%) [ "${FR_SIZE%\%}" -le 100 ] ;;
	esac
}

fr_step_cmdline() {
	fr_parse_cmdline "$(cat /proc/cmdline)"
	[ "$FR_DEBUG" = 1 ] && set -x
	fr_debug "label=$FR_LABEL uuid=$FR_UUID lower=$FR_LOWER sqfs=$FR_SQFS size=$FR_SIZE timeout=$FR_TIMEOUT"
}
