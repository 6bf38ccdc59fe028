# shellcheck shell=sh
# shellcheck disable=SC2034 # FR_SV_* are set here for the callers.
# The saves area (MBR partition 2, raw), read and written by busybox sh: sourced by the init
# (65-saves.sh, from /lib/flashroot/system/bin/) and by flashroot-save in the booted system (from
# /run/flashroot/bin/). The format is src/stick/saves-area.ts's; its constants come from the
# build through FR_SAVES_SUPER_MAGIC, FR_SAVES_GEN_MAGIC and FR_SAVES_PAYLOAD_OFFSET (the init's
# /etc/flashroot.conf, copied to /run/flashroot/saves.conf for the booted system). The slots'
# geometry is read from the superblock. Functions are fr_sv_*; they print no console lines
# themselves: callers say what happened.

# Hundredths of a second since boot, for what a step on the stick cost (applying a generation,
# copying a channel version).
fr_centis() {
	read -r fr_up _ <"${FR_PROC:-/proc}/uptime"
	fr_cs=${fr_up#*.}
	# "10.08": a leading 0 would make $((…)) read 08 as octal and fail.
	fr_cs=${fr_cs#0}
	echo "$((${fr_up%%.*} * 100 + ${fr_cs:-0}))"
}

# The text of the 512-byte sector at byte offset $2 of $1, NULs dropped.
fr_sv_sector() {
	dd if="$1" bs=512 skip=$(($2 / 512)) count=1 2>/dev/null | tr -d '\000'
}

# The value of key $2 in the key=value text $1.
fr_sv_get() {
	printf '%s\n' "$1" | sed -n "s/^$2=//p" | head -n 1
}

fr_sv_is_num() {
	case "$1" in '' | *[!0-9]*) return 1 ;; esac
	return 0
}

# Partition 2 of the disk that holds partition $1 (/dev/sda1 -> /dev/sda2, /dev/mmcblk0p1 ->
# /dev/mmcblk0p2), found through sysfs rather than by name: sets FR_SV_PART, and FR_SV_DISK to
# the whole disk.
fr_sv_find_part() {
	fr_sv_pdir=$(readlink -f "${FR_SYS:-/sys}/class/block/${1##*/}/..") || return 1
	FR_SV_DISK=${FR_DEV:-/dev}/${fr_sv_pdir##*/}
	for fr_sv_p in "$fr_sv_pdir"/*/partition; do
		[ -r "$fr_sv_p" ] && [ "$(cat "$fr_sv_p")" = 2 ] || continue
		fr_sv_p=${fr_sv_p%/partition}
		FR_SV_PART=${FR_DEV:-/dev}/${fr_sv_p##*/}
		return 0
	done
	return 1
}

# The stick's identity: its MBR disk signature, as hex bytes in disk order.
fr_sv_identity() {
	dd if="$1" bs=1 skip=440 count=4 2>/dev/null | od -An -tx1 | tr -d ' \n'
}

# Checks that $1 holds a saves superblock written for disk $2 (its identity); sets FR_SV_SLOTS,
# FR_SV_SLOT_BYTES, FR_SV_FIRST. On failure prints why and returns 1: nothing may be read or
# written there.
fr_sv_open() {
	fr_sv_open_area "$FR_SAVES_SUPER_MAGIC" saves "$1" "$2"
}

# The same for any raw area of ours whose superblock has the magic $1 ($2: what it is called in
# messages): the channel's copy area (channel-copy-lib.sh) has the same geometry lines.
fr_sv_open_area() {
	fr_sv_sb=$(fr_sv_sector "$3" 0)
	if [ "$(printf '%s\n' "$fr_sv_sb" | head -n 1)" != "$1" ]; then
		echo "$3 holds no flashroot $2 area"
		return 1
	fi
	fr_sv_want=$(fr_sv_get "$fr_sv_sb" disk)
	fr_sv_have=$(fr_sv_identity "$4")
	if [ "$fr_sv_want" != "$fr_sv_have" ]; then
		echo "the $2 area on $3 was made for disk $fr_sv_want, $4 is $fr_sv_have"
		return 1
	fi
	FR_SV_SLOTS=$(fr_sv_get "$fr_sv_sb" slots)
	FR_SV_SLOT_BYTES=$(fr_sv_get "$fr_sv_sb" slot_bytes)
	FR_SV_FIRST=$(fr_sv_get "$fr_sv_sb" first_slot)
	if ! fr_sv_is_num "$FR_SV_SLOTS" || ! fr_sv_is_num "$FR_SV_SLOT_BYTES" || ! fr_sv_is_num "$FR_SV_FIRST"; then
		echo "the $2 superblock on $3 is damaged"
		return 1
	fi
	return 0
}

fr_sv_slot_offset() {
	echo $((FR_SV_FIRST + $1 * FR_SV_SLOT_BYTES))
}

# The header text of slot $2 of $1, into fr_sv_h.
fr_sv_header() {
	fr_sv_h=$(fr_sv_sector "$1" "$(fr_sv_slot_offset "$2")")
}

# What a raw area's header text $1 with magic $2 says of its slot: empty | pending | damaged |
# complete (written whole: its own fields are the caller's to check). Shared with the channel copy.
fr_sv_written_state() {
	[ -n "$1" ] || { echo empty; return 0; }
	[ "$(printf '%s\n' "$1" | head -n 1)" = "$2" ] || { echo damaged; return 0; }
	case "$(fr_sv_get "$1" state)" in
	pending) echo pending; return 0 ;;
	complete) ;;
	*) echo damaged; return 0 ;;
	esac
	printf '%s\n' "$1" | grep -qx end || { echo damaged; return 0; }
	echo complete
}

# empty | pending | damaged | complete, for header text $1.
fr_sv_state() {
	fr_sv_ws=$(fr_sv_written_state "$1" "$FR_SAVES_GEN_MAGIC")
	[ "$fr_sv_ws" = complete ] || { echo "$fr_sv_ws"; return 0; }
	fr_sv_len=$(fr_sv_get "$1" length)
	fr_sv_is_num "$fr_sv_len" && [ "$fr_sv_len" -le $((FR_SV_SLOT_BYTES - FR_SAVES_PAYLOAD_OFFSET)) ] || { echo damaged; return 0; }
	echo complete
}

# The payload ($3 bytes) of slot $2 of $1, on stdout.
fr_sv_payload() {
	dd if="$1" bs=65536 iflag=skip_bytes,count_bytes skip=$(($(fr_sv_slot_offset "$2") + FR_SAVES_PAYLOAD_OFFSET)) count="$3" 2>/dev/null
}

# Lines "N SLOT STATE [FIELD]" for every slot of the raw area $1: N its header's number $2 (-1 when
# it has none), STATE what function $3 makes of the header, FIELD its header field $4 ('-' when
# unset) when asked for; highest N first. Shared with the channel copy.
fr_sv_scan_slots() {
	fr_sv_i=0
	while [ "$fr_sv_i" -lt "$FR_SV_SLOTS" ]; do
		fr_sv_header "$1" "$fr_sv_i"
		fr_sv_n=$(fr_sv_get "$fr_sv_h" "$2")
		fr_sv_is_num "$fr_sv_n" || fr_sv_n=-1
		if [ -n "$4" ]; then
			fr_sv_f=$(fr_sv_get "$fr_sv_h" "$4")
			echo "$fr_sv_n $fr_sv_i $("$3" "$fr_sv_h") ${fr_sv_f:--}"
		else
			echo "$fr_sv_n $fr_sv_i $("$3" "$fr_sv_h")"
		fi
		fr_sv_i=$((fr_sv_i + 1))
	done | sort -k1,1rn -k2,2n
}

# Lines "SEQ SLOT STATE" for every slot of $1, newest first (no sequence number: -1).
fr_sv_scan() {
	fr_sv_scan_slots "$1" seq fr_sv_state
}

# Finds the current generation of $1: the newest complete one whose payload matches its sha256,
# copied to file $2 on the way (read once). Sets FR_SV_CUR_SLOT, FR_SV_CUR_SEQ ('' for none),
# FR_SV_CUR_H (its header), FR_SV_MAX_SEQ (the highest sequence number seen, valid or not) and
# FR_SV_BAD (the slots found damaged, newest first). Prints one line per generation skipped.
fr_sv_current() {
	FR_SV_CUR_SLOT='' FR_SV_CUR_SEQ='' FR_SV_CUR_H='' FR_SV_MAX_SEQ=0 FR_SV_BAD=''
	fr_sv_list=$(fr_sv_scan "$1")
	while read -r fr_sv_seq fr_sv_slot fr_sv_st; do
		[ "$fr_sv_seq" -gt "$FR_SV_MAX_SEQ" ] && FR_SV_MAX_SEQ=$fr_sv_seq
		[ -z "$FR_SV_CUR_SEQ" ] || continue
		case "$fr_sv_st" in
		empty) continue ;;
		pending) echo "generation $fr_sv_seq (slot $fr_sv_slot) is incomplete: a save was interrupted; skipped" ;;
		damaged) echo "slot $fr_sv_slot holds a damaged header; skipped" ;;
		complete)
			fr_sv_header "$1" "$fr_sv_slot"
			fr_sv_payload "$1" "$fr_sv_slot" "$(fr_sv_get "$fr_sv_h" length)" >"$2"
			fr_sv_sum=$(sha256sum <"$2")
			if [ "${fr_sv_sum%% *}" = "$(fr_sv_get "$fr_sv_h" sha256)" ]; then
				FR_SV_CUR_SLOT=$fr_sv_slot FR_SV_CUR_SEQ=$fr_sv_seq FR_SV_CUR_H=$fr_sv_h
				continue
			fi
			echo "generation $fr_sv_seq (slot $fr_sv_slot) fails its checksum (damaged or partly written); skipped"
			;;
		esac
		FR_SV_BAD="$FR_SV_BAD $fr_sv_slot"
	done <<EOF
$fr_sv_list
EOF
	[ -n "$FR_SV_CUR_SEQ" ] || rm -f "$2"
	return 0
}

# What is never saved, even under a persisted /: kernel and runtime filesystems, temporary
# files, and flashroot's own links into the root.
fr_sv_excluded() {
	case "$1" in
	proc | proc/* | sys | sys/* | dev | dev/* | run | run/* | tmp | tmp/* | var/tmp/* | usr/local/sbin/flashroot-*) return 0 ;;
	esac
	return 1
}

fr_sv_exists() {
	[ -e "$1" ] || [ -L "$1" ]
}

# The changes under FR_PERSIST: the overlay's upper $1 over lower $2, as the merged root $3 sees
# them. Writes $4/files (what to archive, relative to the root, parents first) and $4/deletions
# (what the lower has and the merged root does not: whiteouts and what opaque directories hide;
# busybox has no getfattr, so they are found by comparing). Names with a newline are not saved.
fr_sv_changes() {
	: >"$4/files.all"
	: >"$4/deletions.all"
	for fr_sv_p in $FR_PERSIST; do
		fr_sv_p=${fr_sv_p#/}
		fr_sv_p=${fr_sv_p%/}
		if [ -n "$fr_sv_p" ] && fr_sv_exists "$2/$fr_sv_p" && ! fr_sv_exists "$3/$fr_sv_p"; then
			echo "$fr_sv_p" >>"$4/deletions.all"
		fi
		fr_sv_exists "$1/$fr_sv_p" || continue
		(cd "$1" && find "./$fr_sv_p") >"$4/upper.list"
		while IFS= read -r fr_sv_e; do
			fr_sv_e=${fr_sv_e#./}
			fr_sv_e=${fr_sv_e#/}
			fr_sv_e=${fr_sv_e%/}
			[ -n "$fr_sv_e" ] || fr_sv_e=.
			[ "$fr_sv_e" = . ] || ! fr_sv_excluded "$fr_sv_e" || continue
			if [ -c "$1/$fr_sv_e" ] && [ "$(stat -c %t%T "$1/$fr_sv_e")" = 00 ]; then
				continue
			fi
			[ "$fr_sv_e" = . ] || echo "$fr_sv_e" >>"$4/files.all"
			if [ -d "$1/$fr_sv_e" ] && [ ! -L "$1/$fr_sv_e" ] && [ -d "$2/$fr_sv_e" ]; then
				ls -A "$2/$fr_sv_e" | while IFS= read -r fr_sv_n; do
					fr_sv_q=$fr_sv_e/$fr_sv_n
					[ "$fr_sv_e" = . ] && fr_sv_q=$fr_sv_n
					fr_sv_excluded "$fr_sv_q" && continue
					fr_sv_exists "$3/$fr_sv_q" || echo "$fr_sv_q"
				done >>"$4/deletions.all"
			fi
		done <"$4/upper.list"
	done
	sort -u "$4/files.all" >"$4/files"
	sort -u "$4/deletions.all" >"$4/deletions"
	rm -f "$4/files.all" "$4/deletions.all" "$4/upper.list"
}

# sha256 of what the lists in $2 name in the merged root $1 (names, types, modes, owners,
# sizes, times, link targets) and of the deletions: equal fingerprints mean nothing to save.
fr_sv_fingerprint() {
	{
		(cd "$1" && tr '\n' '\000' <"$2/files" | xargs -0 -r stat -c '%N|%f|%u|%g|%s|%Y')
		echo '--- deletions'
		cat "$2/deletions"
	} | sha256sum | cut -d ' ' -f 1
}

# Applies payload file $1 (header text $2) to the merged root $3, through the overlay: the
# deletions first (overlayfs writes the whiteouts), then the archive over them.
fr_sv_apply() {
	fr_sv_d=$(fr_sv_get "$2" deletions)
	head -c "$fr_sv_d" "$1" | while IFS= read -r fr_sv_n; do
		case "/$fr_sv_n/" in */../* | //*) continue ;; esac
		[ -n "$fr_sv_n" ] && rm -rf "${3:?}/$fr_sv_n"
	done
	if [ "$(fr_sv_get "$2" comp)" = gzip ]; then
		tail -c +$((fr_sv_d + 1)) "$1" | gzip -dc
	else
		tail -c +$((fr_sv_d + 1)) "$1"
	fi | (cd "$3" && cpio -i -d -m -u 2>/dev/null)
}
