# The on-stick copy of a channel (build --offline-copy; issue 17), the writing side: after a boot
# from the server of a version the stick's copy area does not hold, registers
# flashroot-channel-copy (85-system-tools.sh starts it after switch_root: a unit under systemd, a
# daemon otherwise), which copies the image from the lower's loop device in the background, so
# the boot is not delayed. A boot of a version already copied, or from the copy itself, starts
# nothing and writes nothing. The reading side is in 46-channel.sh.

# The copy's runtime root: dmsetup with its libraries from the initramfs (FR_CC_TOOLS: PATH, or
# PATH=TARGET for a directory symlink), under /run, which outlives switch_root.
FR_CC_RT=/run/flashroot/copy-rt
FR_CC_STATE=/run/flashroot/channel-copy.state

fr_cc_stage_tools() {
	mkdir -p "$FR_CC_RT/dev" "$FR_CC_RT/proc" || return 1
	for fr_e in $FR_CC_TOOLS; do
		case "$fr_e" in
		*=*) fr_p=${fr_e%%=*} && mkdir -p "$FR_CC_RT${fr_p%/*}" && ln -sfn "${fr_e#*=}" "$FR_CC_RT$fr_p" ;;
		*) mkdir -p "$FR_CC_RT${fr_e%/*}" && cp -a "$fr_e" "$FR_CC_RT$fr_e" ;;
		esac || return 1
	done
}

fr_step_channel_copy() {
	[ -n "$FR_CH_COPY_DEV" ] && [ -n "$FR_CH_VERSION" ] && [ -z "$FR_CH_OFFLINE" ] || return 0
	if ! fr_cc_target "$FR_CH_COPY_DEV" "$FR_CH_VERSION" "$FR_CH_IMAGE"; then
		fr_debug "channel $FR_CH_NAME: the stick has a copy of version $FR_CH_VERSION already"
		return 0
	fi
	if [ "$FR_CH_BYTES" -gt "$(fr_cc_capacity)" ]; then
		fr_log "channel $FR_CH_NAME: version $FR_CH_VERSION ($((FR_CH_BYTES / 1048576)) MiB) does not fit a copy slot ($(($(fr_cc_capacity) / 1048576)) MiB): not copied, the stick keeps the copy it has (rebuild the stick with a larger --offline-copy)"
		return 0
	fi
	fr_cc_stage_tools || {
		fr_log "channel $FR_CH_NAME: warning: cannot stage the copy's tools in $FR_CC_RT: version $FR_CH_VERSION not copied to the stick"
		return 0
	}
	echo pending >"$FR_CC_STATE"
	FR_SYSTEM_UNITS="$FR_SYSTEM_UNITS flashroot-channel-copy.service"
	FR_SYSTEM_DAEMONS="$FR_SYSTEM_DAEMONS flashroot-channel-copy"
	fr_log "channel $FR_CH_NAME: version $FR_CH_VERSION is new to the stick: copying it to slot $FR_CC_SLOT in the background once the system runs"
}
