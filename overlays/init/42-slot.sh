# Slots (issue 16; docs/update.md): which of the stick's two systems this boot is (flashroot.slot=,
# on every loader entry), and the bounded trial of a new one. The state is the first line of
# FR_SLOTS_FILE, fixed-width (printf FR_SLOTS_FORMAT: current, trial, tries, of), and each loader's
# default line is the first line of its config (FR_SLOT_DEFAULTS: path|format;…): both are rewritten
# in place with the same length (dd conv=notrunc), so a write is one sector and never an
# allocation. Only a boot of the slot on trial writes: one decrement, or the switch back.

FR_SLOT=
# What flashroot-confirm reads in the booted system.
FR_SLOT_CONF=/run/flashroot/slot.conf

# Reads the state line of file $1 into fr_cur, fr_trial, fr_tries, fr_of; fails unless rendering
# them again gives the same line (the shape is FR_SLOTS_FORMAT's, not ours).
fr_slot_read() {
	fr_line=
	read -r fr_line <"$1" || [ -n "$fr_line" ] || return 1
	fr_cur='' fr_trial='' fr_tries='' fr_of=''
	for fr_w in $fr_line; do
		case "$fr_w" in
		current=*) fr_cur=${fr_w#*=} ;;
		trial=*) fr_trial=${fr_w#*=} ;;
		tries=*) fr_tries=${fr_w#*=} ;;
		of=*) fr_of=${fr_w#*=} ;;
		esac
	done
	case "$fr_cur$fr_trial$fr_tries$fr_of" in '' | *[!ab0-9-]*) return 1 ;; esac
	# shellcheck disable=SC2059
	[ "$(printf "$FR_SLOTS_FORMAT" "$fr_cur" "$fr_trial" "$fr_tries" "$fr_of")" = "$fr_line" ]
}

# Writes the text $2 over the start of file $1, in place: same bytes, same clusters.
fr_slot_overwrite() {
	printf '%s' "$2" | dd of="$1" conv=notrunc 2>/dev/null
}

fr_slot_state_write() {
	# shellcheck disable=SC2059
	fr_slot_overwrite "$FR_MEDIUM_MNT$FR_SLOTS_FILE" "$(printf "$FR_SLOTS_FORMAT" "$1" "$2" "$3" "$4")"
}

# Calls "$1 PATH FORMAT" for each loader config on the stick.
fr_slot_each_default() {
	fr_ifs=$IFS
	IFS=';'
	for fr_d in $FR_SLOT_DEFAULTS; do
		IFS=$fr_ifs
		[ -f "$FR_MEDIUM_MNT${fr_d%%|*}" ] && "$1" "$FR_MEDIUM_MNT${fr_d%%|*}" "${fr_d#*|}"
	done
	IFS=$fr_ifs
	return 0
}

# The slot the first line of config $1 boots (format $2), or nothing.
fr_slot_default_of() {
	fr_first=
	read -r fr_first <"$1"
	for fr_s in a b; do
		# shellcheck disable=SC2059
		[ "$(printf "$2" "$fr_s")" = "$fr_first" ] && echo "$fr_s" && return 0
	done
	return 0
}

fr_slot_point_one() {
	fr_was=$(fr_slot_default_of "$1" "$2")
	[ -n "$fr_was" ] || { fr_log "warning: the first line of ${1#"$FR_MEDIUM_MNT"} is not a slot default line; left alone"; return 0; }
	# shellcheck disable=SC2059
	[ "$fr_was" = "$FR_SLOT_TO" ] || fr_slot_overwrite "$1" "$(printf "$2" "$FR_SLOT_TO")"
}

# Makes every loader boot slot $1.
fr_slot_point_defaults() {
	FR_SLOT_TO=$1
	fr_slot_each_default fr_slot_point_one
}

fr_slot_check_one() {
	[ "$(fr_slot_default_of "$1" "$2")" = "$FR_SLOT_TO" ] || FR_SLOT_ALL=no
}

# True when every loader already boots slot $1.
fr_slot_defaults_are() {
	FR_SLOT_TO=$1 FR_SLOT_ALL=yes
	fr_slot_each_default fr_slot_check_one
	[ "$FR_SLOT_ALL" = yes ]
}

# A slot's release name, from its manifest (flashroot build --release; the build id otherwise).
fr_slot_release() {
	# shellcheck disable=SC2059
	fr_rel=$(sed -n 's/^  "release": "\(.*\)",$/\1/p' "$FR_MEDIUM_MNT$(printf "$FR_SLOT_MANIFEST" "$1")" 2>/dev/null)
	echo "${fr_rel:-unknown}"
}

fr_slot_export() {
	cat >"$FR_SLOT_CONF" <<-EOF_SLOT
		FR_SLOT='$FR_SLOT'
		FR_SLOTS_FILE='$FR_SLOTS_FILE'
		FR_SLOTS_FORMAT='$FR_SLOTS_FORMAT'
		FR_MEDIUM_DEV='$FR_MEDIUM_DEV'
		FR_CONFIRM_AFTER='$FR_CONFIRM_AFTER'
	EOF_SLOT
}

# This slot is on trial: one boot fewer left, and the booted system is to confirm it came up
# (flashroot-confirm: a unit after multi-user.target for systemd roots, else a daemon that waits
# flashroot.confirm-after= seconds).
fr_slot_try() {
	fr_medium_rw || { fr_log "warning: cannot write the stick: slot $FR_SLOT boots without counting this try"; return 0; }
	fr_slot_state_write "$fr_cur" "$fr_trial" $((fr_tries - 1)) "$fr_of"
	fr_medium_ro
	fr_log "slot $FR_SLOT ($(fr_slot_release "$FR_SLOT")) on trial: boot $((fr_of - fr_tries + 1)) of $fr_of; unless it confirms it came up, slot $fr_cur ($(fr_slot_release "$fr_cur")) boots again"
	FR_SYSTEM_UNITS="$FR_SYSTEM_UNITS flashroot-confirm.service"
	FR_SYSTEM_DAEMONS="$FR_SYSTEM_DAEMONS flashroot-confirm-daemon"
	# A failure of this boot's own steps needs no person either: back to the current slot.
	FR_FAIL_HOOK=fr_slot_failed
}

# fr_fail's hook on a trial boot: the trial is over (tries 0, so every boot says so), every
# loader back to the current slot, reboot.
fr_slot_failed() {
	FR_FAIL_HOOK=
	fr_log "slot $FR_SLOT ($(fr_slot_release "$FR_SLOT")) failed at step '$1' on trial: going back to slot $fr_cur ($(fr_slot_release "$fr_cur"))"
	grep -q " $FR_MEDIUM_MNT vfat " /proc/mounts || mount -t vfat -o ro "$FR_MEDIUM_DEV" "$FR_MEDIUM_MNT" || return 0
	fr_medium_rw || return 0
	fr_slot_state_write "$fr_cur" "$fr_trial" 0 "$fr_of"
	fr_slot_point_defaults "$fr_cur"
	fr_medium_ro
	fr_log "rebooting into slot $fr_cur"
	reboot -f
	while :; do sleep 3600; done
}

# The trial used its boots without confirming: every loader back to the current slot, and reboot.
fr_slot_fall_back() {
	fr_log "slot $FR_SLOT ($(fr_slot_release "$FR_SLOT")) did not come up after $fr_of tries: going back to slot $fr_cur ($(fr_slot_release "$fr_cur"))"
	if fr_medium_rw; then
		fr_slot_point_defaults "$fr_cur"
		fr_medium_ro
		fr_log "rebooting into slot $fr_cur"
		sync
		reboot -f
		while :; do sleep 3600; done
	fi
	fr_log "warning: cannot write the stick to go back; booting slot $FR_SLOT anyway (pick slot $fr_cur in the boot menu)"
}

fr_step_slot() {
	[ -n "$FR_SLOTS_FILE" ] && [ -n "$FR_MEDIUM_DEV" ] || return 0
	fr_sf=$FR_MEDIUM_MNT$FR_SLOTS_FILE
	if ! fr_slot_read "$fr_sf"; then
		fr_log "warning: the slot state $FR_SLOTS_FILE is missing or unreadable; booting slot ${FR_SLOT:-?} without writing (set it with flashroot slot --drive DEV a|b)"
		return 0
	fi
	# An entry without flashroot.slot= (edited at the menu) boots the current slot's files.
	[ -n "$FR_SLOT" ] || FR_SLOT=$fr_cur
	fr_slot_export
	if [ "$fr_trial" = "$FR_SLOT" ]; then
		if [ "$fr_tries" -gt 0 ]; then
			fr_slot_try
		elif fr_slot_defaults_are "$fr_cur"; then
			fr_log "slot $FR_SLOT ($(fr_slot_release "$FR_SLOT")) failed its trial and was picked by hand; booting it, nothing written"
		else
			fr_slot_fall_back
		fi
	elif [ "$fr_trial" != - ] && [ "$fr_tries" = 0 ]; then
		fr_log "slot $fr_trial ($(fr_slot_release "$fr_trial")) did not come up after $fr_of tries; running slot $FR_SLOT ($(fr_slot_release "$FR_SLOT"))"
	elif [ "$fr_trial" != - ]; then
		fr_log "slot $fr_trial is on trial ($fr_tries of $fr_of tries left) but slot $FR_SLOT was booted; nothing written"
	elif [ "$FR_SLOT" != "$fr_cur" ]; then
		fr_log "slot $FR_SLOT ($(fr_slot_release "$FR_SLOT")) booted by hand; the current slot is $fr_cur"
	else
		fr_log "slot $FR_SLOT ($(fr_slot_release "$FR_SLOT"))"
	fi
}
