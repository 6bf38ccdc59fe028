# shellcheck shell=sh
# shellcheck disable=SC2034 # FR_CC_* are set here for the callers.
# The channel's copy area (MBR partition 2, raw; build --offline-copy), read by the init
# (46-channel.sh boots a copy when the server cannot be reached, 57-channel-copy.sh decides
# whether this boot's version needs copying) and written by flashroot-channel-copy in the booted
# system. The format is src/stick/channel-copy.ts's; its constants come from the channel's baked
# config (FR_CC_SUPER_MAGIC, FR_CC_SLOT_MAGIC, FR_CC_MANIFEST_OFFSET, FR_CC_MANIFEST_MAX,
# FR_CC_IMAGE_OFFSET). The sector helpers and the superblock check are saves-lib.sh's (source it
# first): both areas are raw partitions with text headers. Functions print no console lines.

# Checks that $1 holds a copy area written for disk $2; sets FR_SV_SLOTS, FR_SV_SLOT_BYTES,
# FR_SV_FIRST (the geometry lines are the saves area's). Prints why not.
fr_cc_open() {
	fr_sv_open_area "$FR_CC_SUPER_MAGIC" copy "$1" "$2" || return 1
	# shellcheck disable=SC2154 # fr_sv_sb: the superblock text fr_sv_open_area read
	[ "$(fr_sv_get "$fr_sv_sb" image_offset)" = "$FR_CC_IMAGE_OFFSET" ] && [ "$(fr_sv_get "$fr_sv_sb" manifest_offset)" = "$FR_CC_MANIFEST_OFFSET" ] || {
		echo "the copy area on $1 has another layout than this stick's init reads"
		return 1
	}
}

# Header text of slot $2 of $1 into fr_cc_h, its state (empty | pending | damaged | complete) into fr_cc_st.
fr_cc_header() {
	fr_cc_h=$(fr_sv_sector "$1" "$(fr_sv_slot_offset "$2")")
	fr_cc_st=$(fr_cc_state "$fr_cc_h")
}

fr_cc_state() {
	fr_cc_ws=$(fr_sv_written_state "$1" "$FR_CC_SLOT_MAGIC")
	[ "$fr_cc_ws" = complete ] || { echo "$fr_cc_ws"; return 0; }
	for fr_cc_k in version bytes manifest_bytes time; do
		fr_sv_is_num "$(fr_sv_get "$1" "$fr_cc_k")" || { echo damaged; return 0; }
	done
	[ "$(fr_sv_get "$1" manifest_bytes)" -le "$FR_CC_MANIFEST_MAX" ] && [ "$(fr_sv_get "$1" bytes)" -le "$(fr_cc_capacity)" ] || { echo damaged; return 0; }
	echo complete
}

# The largest image a slot holds, in bytes.
fr_cc_capacity() {
	echo $((FR_SV_SLOT_BYTES - FR_CC_IMAGE_OFFSET))
}

# Byte offset of slot $1's image in the area.
fr_cc_image_at() {
	echo $(($(fr_sv_slot_offset "$1") + FR_CC_IMAGE_OFFSET))
}

# Lines "VERSION SLOT STATE IMAGE" for every slot of $1, highest version first (none: -1).
fr_cc_scan() {
	fr_sv_scan_slots "$1" version fr_cc_state image
}

# The signed manifest of slot $2 of $1, $3 bytes, on stdout.
fr_cc_manifest() {
	dd if="$1" bs=512 iflag=skip_bytes,count_bytes skip=$(($(fr_sv_slot_offset "$2") + FR_CC_MANIFEST_OFFSET)) count="$3" 2>/dev/null
}

# Where version $2 (image $3) goes in the area $1: returns 1 when a complete copy of it is there
# already (nothing to write), else sets FR_CC_SLOT to a slot that is not complete, or to the one
# holding the older version: the newest complete copy is never the one overwritten.
fr_cc_target() {
	fr_cc_list=$(fr_cc_scan "$1")
	FR_CC_SLOT=
	while read -r fr_cc_v fr_cc_s fr_cc_st fr_cc_img; do
		[ "$fr_cc_st" = complete ] && [ "$fr_cc_v" = "$2" ] && [ "$fr_cc_img" = "$3" ] && return 1
		[ -z "$FR_CC_SLOT" ] && [ "$fr_cc_st" != complete ] && FR_CC_SLOT=$fr_cc_s
	done <<EOF_CC
$fr_cc_list
EOF_CC
	[ -n "$FR_CC_SLOT" ] || FR_CC_SLOT=$(printf '%s\n' "$fr_cc_list" | tail -n 1 | cut -d' ' -f2)
	return 0
}

# A header sector for slot $2 of $1 in state $3 (pending | complete), synced: channel $4, version
# $5, image $6, bytes $7, manifest bytes $8. $9: a scratch file.
fr_cc_write_header() {
	dd if=/dev/zero of="$9" bs=512 count=1 2>/dev/null &&
		printf '%s\nstate=%s\nchannel=%s\nversion=%s\nimage=%s\nbytes=%s\nmanifest_bytes=%s\ntime=%s\nend\n' \
			"$FR_CC_SLOT_MAGIC" "$3" "$4" "$5" "$6" "$7" "$8" "$(date +%s)" | dd of="$9" conv=notrunc 2>/dev/null &&
		dd if="$9" of="$1" bs=512 seek=$(($(fr_sv_slot_offset "$2") / 512)) count=1 conv=notrunc,fsync 2>/dev/null
}
