# Saved changes (build --persist; issue 15): the newest valid generation in the stick's saves
# area (MBR partition 2, raw) is applied through the mounted overlay before switch_root, so the
# root's services start with their saved state; flashroot.fresh boots pristine. Nothing is
# written to the stick here. The booted system's flashroot-save finds what it needs in
# /run/flashroot/saves.conf. The format's functions are shared with flashroot-save
# (overlays/system/bin/saves-lib.sh, in the system tree 85-system-tools.sh installs).

FR_SAVES_CONF=/run/flashroot/saves.conf

fr_saves_conf() {
	cat >"$FR_SAVES_CONF" <<-EOF_SAVES
		FR_SAVES_SUPER_MAGIC='$FR_SAVES_SUPER_MAGIC'
		FR_SAVES_GEN_MAGIC='$FR_SAVES_GEN_MAGIC'
		FR_SAVES_PAYLOAD_OFFSET='$FR_SAVES_PAYLOAD_OFFSET'
		FR_PERSIST='$FR_PERSIST'
		FR_SAVE_SHUTDOWN='$FR_SAVE_SHUTDOWN'
		FR_SAVE_EVERY='$FR_SAVE_EVERY'
		FR_SAVES_DEV='$FR_SAVES_DEV'
		FR_SAVES_DISK='$FR_SAVES_DISK'
		FR_SAVES_WHY='$FR_SAVES_WHY'
		FR_SAVES_APPLIED='$FR_SAVES_APPLIED'
		FR_SAVES_BOOT_FINGERPRINT='$FR_SAVES_BOOT_FINGERPRINT'
		FR_UPPER='/run/flashroot/rw/upper'
		FR_LOWER_DIR='/run/flashroot/lower'
	EOF_SAVES
}

# What runs in the booted system (85-system-tools.sh installs it): the shutdown save and the
# periodic one, as units for systemd and as a daemon otherwise.
fr_saves_register() {
	if [ "$FR_SAVE_SHUTDOWN" = 1 ]; then
		FR_SYSTEM_UNITS="$FR_SYSTEM_UNITS flashroot-save-shutdown.service"
	fi
	if [ "${FR_SAVE_EVERY:-0}" -gt 0 ]; then
		FR_SYSTEM_UNITS="$FR_SYSTEM_UNITS flashroot-save-periodic.service flashroot-save-periodic.timer"
		if fr_root_is_systemd; then
			mkdir -p "$FR_SYSTEMD_RUNTIME/flashroot-save-periodic.timer.d"
			printf '[Timer]\nOnBootSec=\nOnUnitActiveSec=\nOnBootSec=%smin\nOnUnitActiveSec=%smin\n' "$FR_SAVE_EVERY" "$FR_SAVE_EVERY" \
				>"$FR_SYSTEMD_RUNTIME/flashroot-save-periodic.timer.d/interval.conf"
		fi
	fi
	if [ "$FR_SAVE_SHUTDOWN" = 1 ] || [ "${FR_SAVE_EVERY:-0}" -gt 0 ]; then
		FR_SYSTEM_DAEMONS="$FR_SYSTEM_DAEMONS flashroot-saved"
	fi
}

fr_step_saves() {
	[ -n "$FR_PERSIST" ] || return 0
	FR_SAVES_DEV='' FR_SAVES_DISK='' FR_SAVES_WHY='' FR_SAVES_APPLIED='' FR_SAVES_BOOT_FINGERPRINT=''
	fr_saves_find && fr_saves_apply
	fr_saves_conf
	fr_saves_register
}

fr_saves_find() {
	fr_lib=$FR_SYSTEM_TREE/bin/saves-lib.sh
	if [ ! -r "$fr_lib" ]; then
		FR_SAVES_WHY="this initramfs has no $fr_lib"
	elif [ -z "$FR_MEDIUM_DEV" ]; then
		FR_SAVES_WHY="no stick: the lower layer is $FR_LOWER"
	else
		. "$fr_lib"
		if ! fr_sv_find_part "$FR_MEDIUM_DEV"; then
			FR_SAVES_WHY="the disk of $FR_MEDIUM_DEV has no partition 2"
		elif ! fr_sv_open "$FR_SV_PART" "$FR_SV_DISK" >/run/flashroot/saves.why; then
			FR_SAVES_WHY=$(cat /run/flashroot/saves.why)
		else
			FR_SAVES_DEV=$FR_SV_PART FR_SAVES_DISK=$FR_SV_DISK
			return 0
		fi
	fi
	fr_log "saves: none applied: $FR_SAVES_WHY"
	return 1
}

fr_saves_apply() {
	fr_t0=$(fr_centis)
	fr_gen=/run/flashroot/generation
	fr_sv_current "$FR_SAVES_DEV" "$fr_gen" >/run/flashroot/saves.skipped
	while IFS= read -r fr_line; do fr_log "saves: $fr_line"; done </run/flashroot/saves.skipped
	if [ -z "$FR_SV_CUR_SEQ" ]; then
		fr_log "saves: no saved generation on $FR_SAVES_DEV: booting pristine"
		return 0
	fi
	case "$FR_FRESH" in
	1 | yes)
		rm -f "$fr_gen"
		# A pristine boot to look around must not make the pristine state current by itself.
		FR_SAVE_SHUTDOWN=0 FR_SAVE_EVERY=0
		fr_log "saves: flashroot.fresh: generation $FR_SV_CUR_SEQ not applied, booting pristine; no automatic saves this boot (flashroot-save makes this state current)"
		return 0
		;;
	esac
	if ! fr_sv_apply "$fr_gen" "$FR_SV_CUR_H" /newroot; then
		fr_log "saves: applying generation $FR_SV_CUR_SEQ failed part-way; the root may hold part of it (boot with flashroot.fresh for a pristine one)"
	fi
	fr_t1=$(fr_centis)
	FR_SAVES_APPLIED=$FR_SV_CUR_SEQ
	mkdir -p /run/flashroot/fp
	fr_sv_changes /run/flashroot/rw/upper /run/flashroot/lower /newroot /run/flashroot/fp
	FR_SAVES_BOOT_FINGERPRINT=$(fr_sv_fingerprint /newroot /run/flashroot/fp)
	rm -rf /run/flashroot/fp "$fr_gen"
	fr_t2=$(fr_centis)
	fr_log "saves: applied generation $FR_SV_CUR_SEQ from slot $FR_SV_CUR_SLOT ($(fr_sv_get "$FR_SV_CUR_H" length) bytes, saved $(date -d "@$(fr_sv_get "$FR_SV_CUR_H" time)" '+%Y-%m-%d %H:%M:%S' 2>/dev/null)) in $(((fr_t1 - fr_t0) * 10)) ms (+$(((fr_t2 - fr_t1) * 10)) ms to fingerprint it)"
}
