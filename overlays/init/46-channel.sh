# A network lower that follows a signed channel (flashroot build --channel NAME --trust KEY.pub):
# the stick carries where the channel is and a public key instead of a root hash. Fetch the
# channel's manifest (one small object), check its signature with signify, refuse another
# channel's, an older version than this stick has accepted (rollback: the floor on the stick) or
# an expired one (freeze), then point the lower at the image it names with its size and dm-verity
# root hash, so the image lower (52-lower-http.sh) runs as with a baked hash. The floor is raised
# after the lower is mounted (56-channel-floor.sh). The manifest's format is owned by
# src/network/channel.ts; fr_channel_parse must accept exactly what its parseManifest accepts.
#
# Time: the kernel sets the clock from the RTC at boot (CONFIG_RTC_HCTOSYS), so `date` is the
# firmware's clock. A clock before this stick's build time is unknown time (a flat RTC battery
# reads 2000 or 1970): refused, since an expiry cannot be judged against it. A clock that runs
# ahead refuses manifests early; one set back within the build-to-expiry window is not detected.
#
# The on-stick copy (build --offline-copy; issue 17): when the manifest cannot be fetched before
# the deadline (or the network never came up, 45-network.sh), the newest complete copy in the
# stick's copy area is booted instead, after the same checks of its signed manifest with this
# stick's key and its channel; its image goes through dm-verity with that
# manifest's root hash like the server's. Expiry is reported but does not refuse a copy: expiry
# exists against a server frozen on an old version, and a frozen server is not one that cannot be
# reached; a box without its server keeps running the last version it verified, and says so.
# The floor, likewise, guards against a server replaying old manifests; an offline boot reads
# nothing from the network, and the slots hold only versions this stick booted at or above its
# floor, copied by itself. A copy below the floor is booted (and said to be) only when the copy of
# a newer version could not be completed (cut off, or too big for a slot): refusing it would
# leave the box with nothing to boot.
# The deadline is the same flashroot.timeout: a shorter one would boot an old copy whenever the
# network is merely slow to come up.

FR_CH_CONF=/etc/flashroot/channel.conf
FR_CH_KEY=/etc/flashroot/channel.pub
FR_CH_WORK=/run/flashroot/channel

# Parses the verified manifest "$1" into FR_CH_* variables; on a problem prints it and fails.
fr_channel_parse() {
	fr_file=$1
	fr_want="flashroot-channel channel version expires image bytes data-blocks hash-start root-hash salt"
	fr_n=0
	fr_line=
	while IFS= read -r fr_line; do
		fr_n=$((fr_n + 1))
		# shellcheck disable=SC2086 # the field names, one word each
		set -- $fr_want
		[ "$fr_n" -le $# ] || { echo "more than $# lines"; return 1; }
		shift $((fr_n - 1))
		fr_k=${fr_line%% *}
		fr_v=${fr_line#* }
		case "$fr_line" in
		*[!a-z0-9._\ -]*) echo "line $fr_n '$fr_line' is not 'KEY VALUE'"; return 1 ;;
		esac
		case "$fr_k" in '' | [!a-z]* | *[!a-z-]*) echo "line $fr_n '$fr_line' is not 'KEY VALUE'"; return 1 ;; esac
		case "$fr_v" in '' | *' '* | *[!a-z0-9._-]*) echo "line $fr_n '$fr_line' is not 'KEY VALUE'"; return 1 ;; esac
		[ "$fr_k" != "$fr_line" ] || { echo "line $fr_n '$fr_line' is not 'KEY VALUE'"; return 1; }
		[ "$fr_k" = "$1" ] || { echo "line $fr_n is '$fr_k', expected '$1'"; return 1; }
		case "$fr_k" in
		flashroot-channel) FR_CH_FORMAT=$fr_v ;;
		channel) FR_CH_CHANNEL=$fr_v ;;
		version) FR_CH_VERSION=$fr_v ;;
		expires) FR_CH_EXPIRES=$fr_v ;;
		image) FR_CH_IMAGE=$fr_v ;;
		bytes) FR_CH_BYTES=$fr_v ;;
		data-blocks) FR_CH_BLOCKS=$fr_v ;;
		hash-start) FR_CH_HASH_START=$fr_v ;;
		root-hash) FR_CH_ROOT_HASH=$fr_v ;;
		salt) FR_CH_SALT=$fr_v ;;
		esac
	done <"$fr_file"
	[ -z "$fr_line" ] || { echo "it does not end with a line break"; return 1; }
	# shellcheck disable=SC2086
	set -- $fr_want
	[ "$fr_n" = $# ] || { echo "$fr_n lines, a manifest has $#"; return 1; }
	[ "$FR_CH_FORMAT" = 1 ] || { echo "format $FR_CH_FORMAT, this stick reads 1"; return 1; }
	for fr_f in "version $FR_CH_VERSION" "expires $FR_CH_EXPIRES" "bytes $FR_CH_BYTES" "data-blocks $FR_CH_BLOCKS" "hash-start $FR_CH_HASH_START"; do
		case "${fr_f#* }" in
		[1-9] | [1-9]*[0-9]) ;;
		*) echo "${fr_f%% *} '${fr_f#* }' is not a positive whole number"; return 1 ;;
		esac
		case "${fr_f#* }" in
		*[!0-9]* | ???????????????????*) echo "${fr_f%% *} '${fr_f#* }' is not a positive whole number"; return 1 ;;
		esac
	done
	case "$FR_CH_CHANNEL" in
	[a-z0-9]*) ;;
	*) echo "channel '$FR_CH_CHANNEL' is not a channel name"; return 1 ;;
	esac
	[ ${#FR_CH_CHANNEL} -le 63 ] || { echo "channel '$FR_CH_CHANNEL' is not a channel name"; return 1; }
	fr_hex64 "$FR_CH_ROOT_HASH" || { echo "root-hash '$FR_CH_ROOT_HASH' is not 64 hex digits"; return 1; }
	fr_hex64 "$FR_CH_SALT" || { echo "salt '$FR_CH_SALT' is not 64 hex digits"; return 1; }
	case "$FR_CH_IMAGE" in
	root-*.sqfs) fr_hex64 "$(echo "$FR_CH_IMAGE" | sed 's/^root-//; s/\.sqfs$//')" ;;
	*) false ;;
	esac || { echo "image '$FR_CH_IMAGE' is not a content-addressed name (root-<sha256>.sqfs)"; return 1; }
	[ "$FR_CH_HASH_START" -ge "$FR_CH_BLOCKS" ] || { echo "hash-start $FR_CH_HASH_START lies inside the data ($FR_CH_BLOCKS blocks)"; return 1; }
	return 0
}

fr_hex64() {
	[ ${#1} = 64 ] || return 1
	case "$1" in *[!0-9a-f]*) return 1 ;; esac
	return 0
}

# The floor file "$1" (NUL-padded): sets FR_CH_FLOOR, the highest version this stick accepted.
fr_channel_read_floor() {
	fr_floor_text=$(tr -d '\000' <"$1" 2>/dev/null) || return 1
	FR_CH_FLOOR=$(echo "$fr_floor_text" | sed -n 's/^version \(0\|[1-9][0-9]*\)$/\1/p')
	[ -n "$FR_CH_FLOOR" ] && [ "$(echo "$fr_floor_text" | head -n 1)" = "flashroot-floor 1" ]
}

fr_ch_date() {
	date -u -d "@$1" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo "@$1"
}

# Fetches the manifest to $FR_CH_FILE: busybox wget for http://, the runtime root's curl (TLS,
# only the stick's CA) for https:// and for s3:// (the object's path-style URL under the endpoint,
# signed with the stick's key by libcurl). One request either way.
fr_channel_fetch() {
	rm -f "$FR_CH_FILE"
	case "$FR_CH_DIR" in
	http://*) timeout 20 wget -q --header 'Cache-Control: no-cache' -O "$FR_CH_FILE" "$FR_CH_URL" ;;
	https://*) fr_channel_curl "$FR_CH_URL" ;;
	s3://*) fr_net_conf "rebuild with flashroot build --channel"
		# shellcheck disable=SC2046 # no key: no argument
		fr_channel_curl "$FR_NET_S3_URL/${FR_CH_URL#s3://}" $(fr_s3_key -K) ;;
	*) echo "no way to fetch $FR_CH_URL"; return 1 ;;
	esac || return 1
	[ -s "$FR_CH_FILE" ] || { echo "$FR_CH_URL is empty"; return 1; }
}

# The URL "$1" to $FR_CH_FILE by the runtime root's curl, "$2…" added (how to sign); a refusal
# fails (-f), naming the HTTP status.
fr_channel_curl() {
	fr_cc_url=$1
	shift
	chroot "$FR_RT" /usr/bin/curl -sSf "$@" --proto "=${fr_cc_url%%://*}" --cacert /etc/flashroot/ca.pem -H 'Cache-Control: no-cache' \
		--connect-timeout 5 --max-time 20 "$fr_cc_url" >"$FR_CH_FILE"
}

# Points the image lower at the image the verified manifest (FR_CH_*) names.
fr_channel_use() {
	FR_LOWER=$FR_CH_DIR$FR_CH_IMAGE
	FR_NET_BYTES=$FR_CH_BYTES
	FR_NET_VERITY=$(echo "$FR_CH_TABLE" | sed "s|@SECTORS@|$((FR_CH_BLOCKS * FR_CH_SECTORS_PER_BLOCK))|; s|@BLOCKS@|$FR_CH_BLOCKS|; s|@HASH_START@|$FR_CH_HASH_START|; s|@ROOT_HASH@|$FR_CH_ROOT_HASH|; s|@SALT@|$FR_CH_SALT|")
	FR_NET_HASH_FROM="in channel $FR_CH_NAME's manifest (version $FR_CH_VERSION)"
	FR_NET_REPUBLISH="publish a good image to the channel (flashroot publish --channel $FR_CH_NAME)"
}

# With --offline-copy: finds the stick's copy area (partition 2 of the stick's disk, as the saves
# area is found) into FR_CH_COPY_DEV and FR_CH_COPY_DISK, or says why there is none.
fr_channel_copy_find() {
	FR_CH_COPY_DEV='' FR_CH_COPY_DISK='' FR_CH_COPY_WHY=''
	[ "$FR_CH_COPY" = 1 ] || return 0
	. "$FR_SYSTEM_TREE/bin/saves-lib.sh"
	. "$FR_SYSTEM_TREE/bin/channel-copy-lib.sh"
	if ! fr_sv_find_part "$FR_MEDIUM_DEV"; then
		FR_CH_COPY_WHY="the disk of $FR_MEDIUM_DEV has no partition 2"
	elif ! fr_cc_open "$FR_SV_PART" "$FR_SV_DISK" >"$FR_CH_WORK/copy.why"; then
		FR_CH_COPY_WHY=$(cat "$FR_CH_WORK/copy.why")
	else
		# shellcheck disable=SC2034 # FR_CH_COPY_DISK: for flashroot-channel-copy (/run/flashroot/conf)
		FR_CH_COPY_DEV=$FR_SV_PART FR_CH_COPY_DISK=$FR_SV_DISK
		return 0
	fi
	fr_log "channel $FR_CH_NAME: warning: no on-stick copy area: $FR_CH_COPY_WHY"
}

# The server cannot be reached ($1 says why): boots the newest complete copy on the stick whose
# signed manifest passes the checks a fetched one passes (expiry and floor aside: see the note at
# the top and below), setting FR_CH_* from it
# and FR_NET_COPY_DEV/FR_NET_COPY_AT for the image lower. Returns 1 when there is none, with
# FR_CC_NONE saying why.
fr_channel_offline() {
	FR_CC_NONE="no usable copy on the stick"
	[ "$FR_CH_COPY" = 1 ] || return 1
	[ -n "$FR_CH_COPY_DEV" ] || { FR_CC_NONE="no on-stick copy area: $FR_CH_COPY_WHY"; return 1; }
	fr_cc_scan "$FR_CH_COPY_DEV" >"$FR_CH_WORK/copies"
	fr_why=
	while read -r fr_v fr_slot fr_st _; do
		case "$fr_st" in
		empty) continue ;;
		pending) fr_why="$fr_why; slot $fr_slot: an unfinished copy$([ "$fr_v" = -1 ] || echo " of version $fr_v") (cut off by a power cut or a reboot)" && continue ;;
		damaged) fr_why="$fr_why; slot $fr_slot: a damaged header" && continue ;;
		esac
		fr_cc_header "$FR_CH_COPY_DEV" "$fr_slot"
		# shellcheck disable=SC2154 # fr_cc_h: set by fr_cc_header (channel-copy-lib.sh, sourced above)
		fr_cc_manifest "$FR_CH_COPY_DEV" "$fr_slot" "$(fr_sv_get "$fr_cc_h" manifest_bytes)" >"$FR_CH_FILE"
		if ! signify-openbsd -V -e -p "$FR_CH_KEY" -x "$FR_CH_FILE" -m "$FR_CH_WORK/manifest" >"$FR_CH_WORK/verify.err" 2>&1; then
			fr_why="$fr_why; slot $fr_slot (version $fr_v): its manifest is not signed by this stick's key"
		elif ! fr_channel_parse "$FR_CH_WORK/manifest" >"$FR_CH_WORK/parse.err"; then
			fr_why="$fr_why; slot $fr_slot (version $fr_v): its manifest is malformed: $(cat "$FR_CH_WORK/parse.err")"
		elif [ "$FR_CH_CHANNEL" != "$FR_CH_NAME" ]; then
			fr_why="$fr_why; slot $fr_slot: a copy of channel '$FR_CH_CHANNEL'"
		elif [ "$FR_CH_IMAGE $FR_CH_BYTES" != "$(fr_sv_get "$fr_cc_h" image) $(fr_sv_get "$fr_cc_h" bytes)" ]; then
			fr_why="$fr_why; slot $fr_slot: its header does not match its signed manifest"
		else
			fr_channel_use
			FR_NET_COPY_DEV=$FR_CH_COPY_DEV
			FR_NET_COPY_AT=$(fr_cc_image_at "$fr_slot")
			FR_NET_HASH_FROM="in the signed manifest of the on-stick copy (version $FR_CH_VERSION)"
			FR_NET_REPUBLISH="the copy on the stick is damaged: boot once with the server up to copy the current version again"
			FR_CH_OFFLINE=$fr_slot
			fr_now=$(date +%s)
			if [ "$fr_now" -lt "$FR_CH_BUILT" ]; then
				fr_expiry="expiry not judged: the clock says $(fr_ch_date "$fr_now"), before this stick was built"
			elif [ "$fr_now" -ge "$FR_CH_EXPIRES" ]; then
				fr_expiry="EXPIRED at $(fr_ch_date "$FR_CH_EXPIRES"), booted anyway: only the server could name a newer version"
			else
				fr_expiry="expires $(fr_ch_date "$FR_CH_EXPIRES")"
			fi
			# Below the floor only when the copy of a newer version was cut off (the floor rises at
			# the boot, the copy completes later): the slots hold only versions this stick booted
			# when they were at or above its floor, and the newest complete one is tried first.
			fr_below=
			[ "$FR_CH_VERSION" -ge "$FR_CH_FLOOR" ] ||
				fr_below="; older than version $FR_CH_FLOOR, which this stick booted but whose copy was not completed"
			fr_log "channel $FR_CH_NAME: server unreachable ($1); booting the on-stick copy of version $FR_CH_VERSION (slot $fr_slot, signature good, copied $(fr_ch_date "$(fr_sv_get "$fr_cc_h" time)"), $fr_expiry$fr_below)"
			return 0
		fi
	done <"$FR_CH_WORK/copies"
	[ -z "$fr_why" ] || FR_CC_NONE="no usable copy on the stick: ${fr_why#; }"
	[ -n "$fr_why" ] || FR_CC_NONE="no copy on the stick yet (one is made after the first boot from the server)"
	return 1
}

fr_step_channel() {
	fr_lower_is_networked || return 0
	[ -r "$FR_CH_CONF" ] || return 0
	. "$FR_CH_CONF"
	fr_mount_medium
	fr_channel_read_floor "/run/flashroot/medium$FR_CH_FLOOR_PATH" ||
		fr_fail lower "cannot read the channel's rollback floor $FR_CH_FLOOR_PATH on the stick" \
			"the stick is damaged or was not built with --channel: rebuild it (flashroot build --channel)"
	mkdir -p "$FR_CH_WORK"
	fr_channel_copy_find
	# The directory the channel is in; a flashroot.lower= naming an image there means its directory.
	case "$FR_LOWER" in */) FR_CH_DIR=$FR_LOWER ;; *) FR_CH_DIR=${FR_LOWER%/*}/ ;; esac
	FR_CH_OBJECT=$FR_CH_NAME.channel
	FR_CH_URL=$FR_CH_DIR$FR_CH_OBJECT
	FR_CH_FILE=$FR_CH_WORK/signed
	if [ -n "$FR_NET_DOWN" ]; then
		fr_channel_offline "$FR_NET_DOWN" && return 0
		fr_fail network "$FR_NET_DOWN, and $FR_CC_NONE" "$FR_NET_DOWN_HINT"
	fi
	case "$FR_CH_DIR" in http://*) ;; *) fr_net_runtime ;; esac
	fr_log "channel $FR_CH_NAME: fetching $FR_CH_URL (this stick accepted up to version $FR_CH_FLOOR)"
	if ! fr_net_retry "fetch $FR_CH_URL" fr_channel_fetch; then
		fr_channel_offline "cannot fetch $FR_CH_URL after ${FR_TIMEOUT}s: ${FR_NET_ERROR:-no message}" && return 0
		fr_fail lower "cannot fetch the channel manifest $FR_CH_URL after ${FR_TIMEOUT}s: ${FR_NET_ERROR:-no message}${FR_CH_COPY:+ (and $FR_CC_NONE)}" \
			"check the server is up and the channel is published there (flashroot publish --channel $FR_CH_NAME); a longer flashroot.timeout= waits more"
	fi
	signify-openbsd -V -e -p "$FR_CH_KEY" -x "$FR_CH_FILE" -m "$FR_CH_WORK/manifest" >"$FR_CH_WORK/verify.err" 2>&1 ||
		fr_fail lower "the channel manifest $FR_CH_URL is not signed by this stick's key ($(grep -v '^ *$' "$FR_CH_WORK/verify.err" | head -n 1 | tr -cd ' -~'))" \
			"publish it with the secret key whose public key this stick trusts (flashroot publish --sign-key), or rebuild the stick with --trust for the new key"
	fr_channel_parse "$FR_CH_WORK/manifest" >"$FR_CH_WORK/parse.err" ||
		fr_fail lower "the signed channel manifest $FR_CH_URL is malformed: $(cat "$FR_CH_WORK/parse.err")" "publish it with flashroot publish --channel"
	[ "$FR_CH_CHANNEL" = "$FR_CH_NAME" ] ||
		fr_fail lower "$FR_CH_URL is the manifest of channel '$FR_CH_CHANNEL', this stick follows '$FR_CH_NAME'" \
			"the server mixed up channels: publish channel $FR_CH_NAME there (flashroot publish --channel $FR_CH_NAME)"
	[ "$FR_CH_VERSION" -ge "$FR_CH_FLOOR" ] ||
		fr_fail lower "rollback refused: channel $FR_CH_NAME version $FR_CH_VERSION is older than version $FR_CH_FLOOR, which this stick has already booted" \
			"the server serves an old manifest (replayed or restored): publish a new version (flashroot publish --channel $FR_CH_NAME)"
	fr_now=$(date +%s)
	[ "$fr_now" -ge "$FR_CH_BUILT" ] ||
		fr_fail lower "the clock says $(fr_ch_date "$fr_now"), before this stick was built ($(fr_ch_date "$FR_CH_BUILT")): the time is unknown, so the channel's expiry cannot be checked" \
			"set the box's clock in its firmware setup (a flat RTC battery?) and boot again"
	[ "$fr_now" -lt "$FR_CH_EXPIRES" ] ||
		fr_fail lower "channel $FR_CH_NAME version $FR_CH_VERSION expired at $(fr_ch_date "$FR_CH_EXPIRES") (the clock says $(fr_ch_date "$fr_now"))" \
			"the server serves a stale manifest (frozen?): publish a fresh one (flashroot publish --channel $FR_CH_NAME); or check the box's clock"
	fr_channel_use
	fr_log "channel $FR_CH_NAME: version $FR_CH_VERSION (signature good, expires $(fr_ch_date "$FR_CH_EXPIRES")): $FR_CH_IMAGE"
}
