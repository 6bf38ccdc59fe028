# Lower layers "http", "https" and "s3": a squashfs image on a web server or in a bucket, read
# lazily with range requests by a client (httpfs2 or rclone for http; nbdkit for https, and with
# flashroot's S3 reader for signed S3) running
# from a runtime root in /run, exposed as one file or block device, loop-attached, checked block by block by dm-verity
# against the root hash baked into this initramfs, mounted read-only. Nothing here is ever written
# to the server. With flashroot.toram the whole image is downloaded to RAM first (when MemAvailable
# allows, see fr_toram).

FR_RT=/run/flashroot/rt
FR_NET_ERR=/run/flashroot/net.err

# Reads what the build baked in for the network lower; "$1": how to rebuild for it.
fr_net_conf() {
	[ -r /etc/flashroot/network.conf ] ||
		fr_fail lower "this initramfs was built without a network lower" "$1"
	. /etc/flashroot/network.conf
}

# The network layer (src/network/net-layer.ts): the client and its libraries as a squashfs in
# this initramfs, loop-mounted where it lies. switch_root deletes the file; the loop device keeps
# it for as long as the client runs. Its tmpfs holds the runtime root's upper layer: settings,
# device nodes, resolv.conf. The network step mounts it before it waits for the NIC and DHCP.
FR_NET_LAYER=/lib/flashroot/net-layer.sqfs
FR_NET_RAM=/run/flashroot/net
FR_NET_LAYER_MNT=$FR_NET_RAM/layer
FR_NET_PREFETCH_PID=
FR_NET_LAYER_UP=

fr_net_layer() {
	[ "$FR_NET_LAYER_UP" = yes ] && return 0
	mkdir -p "$FR_NET_RAM"
	mount -t tmpfs -o mode=0755,size=32m flashroot-net "$FR_NET_RAM" ||
		fr_fail lower "cannot create $FR_NET_RAM for the runtime root" "not enough RAM?"
	mkdir -p "$FR_NET_LAYER_MNT"
	mount -t squashfs -o ro,loop "$FR_NET_LAYER" "$FR_NET_LAYER_MNT" 2>"$FR_NET_ERR" ||
		fr_fail lower "cannot mount the network layer $FR_NET_LAYER: $(tail -n 1 "$FR_NET_ERR")" \
			"rebuild with flashroot build --lower $FR_LOWER (are squashfs and loop in the initramfs?)"
	FR_NET_LAYER_UP=yes
	fr_log "network layer $FR_NET_LAYER ($(($(fr_bytes "$FR_NET_LAYER") / 1048576)) MiB)"
	fr_net_prefetch &
	FR_NET_PREFETCH_PID=$!
}

# The client's files read once, whole and in the background, while the NIC and DHCP come up, so
# that the client starts from the page cache. Left to its page faults, each page of its binaries
# is a trip through overlayfs, squashfs and the loop device: rclone's first line came 5.1 s after
# the layer mounted, and 2.1 s after such a read (which took 1.8 s), on two emulated CPUs.
fr_net_prefetch() {
	find "$FR_NET_LAYER_MNT" -type f -exec cat {} + >/dev/null 2>&1
	return 0
}

# The runtime root: an overlay whose lower is the network layer (the client's binaries) and
# whose upper holds the template (settings, keys, the CA) and what the init adds (device nodes,
# resolv.conf). Both live under /run, which switch_root moves along, so the client keeps its files
# after the initramfs is deleted. Its tmpfs is not nodev, unlike /run: /dev/fuse lives in it.
fr_net_runtime() {
	# The channel step (46-channel.sh) may have made it already, to fetch its manifest with rclone.
	[ "$FR_RT_READY" = yes ] && return 0
	FR_RT_READY=yes
	fr_net_layer
	[ -z "$FR_NET_PREFETCH_PID" ] || wait "$FR_NET_PREFETCH_PID"
	mkdir -p "$FR_RT" "$FR_NET_RAM/upper" "$FR_NET_RAM/work"
	cp -a /usr/lib/flashroot/rt/. "$FR_NET_RAM/upper/"
	mount -t overlay -o "lowerdir=$FR_NET_LAYER_MNT,upperdir=$FR_NET_RAM/upper,workdir=$FR_NET_RAM/work" flashroot-rt "$FR_RT" ||
		fr_fail lower "cannot stack the runtime root $FR_RT" "is overlay in the initramfs? rebuild with flashroot build"
	mknod "$FR_RT/dev/fuse" c 10 229
	mknod "$FR_RT/dev/null" c 1 3
	mknod "$FR_RT/dev/console" c 5 1
	cp /etc/resolv.conf "$FR_RT/etc/resolv.conf" 2>/dev/null
	return 0
}

# Attaches file "$2" read-only to a loop device, checks it is "$3" bytes, maps it through dm-verity
# as /dev/mapper/"$1" with table "$4" (@DEV@: the loop device) and mounts the squashfs on it at "$5".
# With "$6", the image starts "$6" bytes into the device "$2" (the channel's on-stick copy), whose
# size says nothing. On failure FR_VERITY_ERROR says what failed; FR_VERITY_CHANGED=yes when
# dm-verity found a changed block (a different or damaged image, not a missing tool). fr_loop: the
# loop device.
fr_verity_squashfs() {
	FR_VERITY_CHANGED=
	if [ -z "$6" ]; then
		fr_size=$(fr_bytes "$2")
		[ "$fr_size" = "$3" ] || { FR_VERITY_ERROR="it is $fr_size bytes, $3 expected"; return 1; }
	fi
	fr_loop=$(losetup -f) && losetup -r ${6:+-o "$6"} "$fr_loop" "$2" || { FR_VERITY_ERROR="cannot attach it to a loop device (is loop in the initramfs?)"; return 1; }
	DM_DISABLE_UDEV=1 dmsetup create "$1" --readonly --noudevsync \
		--table "$(echo "$4" | sed "s|@DEV@|$fr_loop|g")" >/run/flashroot/dm.err 2>&1 ||
		{ FR_VERITY_ERROR="cannot set up dm-verity over $fr_loop: $(tail -n 1 /run/flashroot/dm.err) (is dm_verity in the initramfs?)"; return 1; }
	mount -t squashfs -o ro "/dev/mapper/$1" "$5" 2>/run/flashroot/mount.err && return 0
	case "$(DM_DISABLE_UDEV=1 dmsetup status "$1" 2>/dev/null)" in
	*' C'*) FR_VERITY_CHANGED=yes; FR_VERITY_ERROR="dm-verity found a changed block" ;;
	*) FR_VERITY_ERROR="cannot mount it as squashfs: $(tail -n 1 /run/flashroot/mount.err)" ;;
	esac
	return 1
}

# Runs "$@" until it succeeds, waiting 1, 2, 4, 8, 8… s between tries and saying so, until
# flashroot.timeout seconds have passed since its first failure. Its last line of output is kept
# in FR_NET_ERROR.
fr_net_retry() {
	fr_what=$1
	shift
	fr_deadline=
	fr_wait=1
	fr_try=1
	until "$@" >"$FR_NET_ERR" 2>&1; do
		# Printable characters only: a client may echo a server's binary reply.
		FR_NET_ERROR=$(grep -v '^ *$' "$FR_NET_ERR" | tail -n 1 | tr -cd ' -~')
		# The clock starts at the first failure: a client's first start (rclone's, cold, on a slow
		# box) may take longer than the whole timeout, which would leave no retry at all.
		[ -n "$fr_deadline" ] || fr_deadline=$(($(fr_uptime) + FR_TIMEOUT))
		fr_left=$((fr_deadline - $(fr_uptime)))
		[ "$fr_left" -le 0 ] && return 1
		[ "$fr_wait" -gt "$fr_left" ] && fr_wait=$fr_left
		fr_log "cannot $fr_what (try $fr_try: ${FR_NET_ERROR:-no message}); retrying in ${fr_wait}s, giving up in ${fr_left}s"
		sleep "$fr_wait"
		fr_try=$((fr_try + 1))
		[ "$fr_wait" -lt 8 ] && fr_wait=$((fr_wait * 2))
	done
	return 0
}

# Mounts the image file "$1" (or, with $2, the image $2 bytes into the device $1: the channel's
# on-stick copy) through dm-verity at /run/flashroot/lower, saying which check failed.
# FR_NET_LOOP: the loop device, which the channel copy reads the image from.
fr_verity_mount() {
	if ! fr_verity_squashfs flashroot-lower "$1" "$FR_NET_BYTES" "$FR_NET_VERITY" /run/flashroot/lower "$2"; then
		case "$FR_VERITY_ERROR" in
		"it is "*) fr_fail lower "$FR_LOWER is $fr_size bytes, this stick expects $FR_NET_BYTES" \
			"truncated or another image under this name: republish the image built with this stick (flashroot publish)" ;;
		esac
		[ "$FR_VERITY_CHANGED" = yes ] &&
			fr_fail lower "$FR_LOWER does not match the root hash ${FR_NET_HASH_FROM:-baked into this stick} (dm-verity found a changed block)" \
				"the server holds a damaged or different image: ${FR_NET_REPUBLISH:-republish the image built with this stick}"
		case "$FR_VERITY_ERROR" in
		"cannot mount"*) fr_fail lower "cannot mount $FR_LOWER as squashfs: ${FR_VERITY_ERROR#cannot mount it as squashfs: }" "the server may have gone away while mounting; check it and boot again" ;;
		esac
		fr_fail lower "$FR_LOWER: $FR_VERITY_ERROR" "rebuild with flashroot build"
	fi
	# shellcheck disable=SC2034 # for flashroot-channel-copy (/run/flashroot/conf)
	FR_NET_LOOP=$fr_loop
	# The root hash as the table gives it, not dm-verity's status: the mount read through the check,
	# and a second dmsetup is 0.1 s of a boot under emulation.
	fr_hash=${FR_NET_VERITY#* sha256 }
	fr_log "lower $FR_LOWER${2:+ from the on-stick copy on $1} (dm-verity, root hash ${fr_hash%% *})"
}

# Hides the runtime root (and any key or CA in it) from the booted system: the FUSE client keeps
# its chroot, and with it its files for reconnects, while the path shows an empty read-only tmpfs.
fr_net_hide_runtime() {
	mount -t tmpfs -o ro,size=4k,mode=0755 flashroot-rt-hidden "$FR_RT" ||
		fr_fail lower "cannot hide the runtime root $FR_RT" "report this as a bug"
}

fr_httpfs_mount() {
	# A refused connection is EIO at once. -t 10: a stalled server is retried every 10 s, each
	# retry said on the console, until it answers (httpfs2 has no limit: --http-client rclone has).
	chroot "$FR_RT" /usr/bin/httpfs2 -c /dev/console -t 10 "$FR_LOWER" /mnt -o ro,allow_other
}

# rclone in the runtime root on the image's directory FR_RCLONE_REMOTE (the server's HTML index),
# with what every call needs: no config, only the stick's CA, and bounded waits (one retry, 10 s without
# data, 5 s to connect and handshake): a refused server is an error within seconds, a stalled one
# within minutes (docs/network.md, fault catalogue) instead of rclone's default retries.
# FR_RCLONE_VIA: a command to run it through (setsid).
fr_rclone() {
	fr_verb=$1
	shift
	$FR_RCLONE_VIA chroot "$FR_RT" /usr/bin/rclone "$fr_verb" "$FR_RCLONE_REMOTE" \
		--config /dev/null --ca-cert /etc/flashroot/ca.pem \
		--low-level-retries 1 --timeout 10s --contimeout 5s "$@"
}

# rclone mounts a directory it learns from a listing (a file URL mounts as an empty directory),
# so the image must show up in it: else unmount (which ends rclone) and let the caller retry. The
# flags keep reads lazy (defaults fetch tens of MB ahead); the listing's time stands for the
# image's (--use-server-modtime), so no HEAD of it precedes the first read. rclone runs in the
# foreground of its own session, its errors (a read that failed, and why) on the console: --daemon
# would start the binary a second time, 1.5 s of a boot under emulation. rclone reads /proc/mounts
# to see its mount come up.
fr_rclone_mount() {
	[ -e "$FR_RT/proc/mounts" ] || mount -t proc proc "$FR_RT/proc" || return 1
	FR_RCLONE_VIA=setsid fr_rclone mount /mnt --read-only --allow-other --use-server-modtime \
		--buffer-size 0 --vfs-read-chunk-size 128k --vfs-read-chunk-size-limit 2M --vfs-cache-mode off </dev/null 2>/dev/console &
	fr_rclone_pid=$!
	fr_client_ready rclone "$fr_rclone_pid" 15 "mount $FR_RT/mnt" fr_is_mounted "$FR_RT/mnt" || return 1
	[ -e "$FR_RT/mnt/${FR_LOWER##*/}" ] && return 0
	umount "$FR_RT/mnt"
	# The mount comes up empty when the server cannot be reached or refuses the listing too: a
	# listing says which, and why (refused, timed out, certificate not from the stick's CA,
	# AccessDenied), on one line, without rclone's date prefix.
	if fr_rclone lsf --retries 1 >/dev/null 2>/run/flashroot/lsf.err; then
		echo "${FR_LOWER##*/} is not listed in ${FR_LOWER%/*}/"
	else
		sed 's|^[0-9/]* [0-9:]* ||; s|^Failed to lsf.*error listing "": ||; s|^Failed to lsf: ||' /run/flashroot/lsf.err | tr -s '\n\t' '  '
		echo
	fi
	return 1
}

# The directory of the image's URL, as a connection string (the URL holds no quotes: the build
# refuses them); nothing else to configure.
fr_rclone_web() {
	FR_RCLONE_REMOTE=":http,url='${FR_LOWER%/*}/':"
	fr_rclone_mount
}

# Waits until the client "$1" (process "$2", started in the background) is ready, which the
# command "$5…" tells, for at most "$3" seconds; else says why on one line ("$4": what it had to
# do) and ends a client that is still running, so that a retry starts afresh.
fr_client_ready() {
	fr_cr_name=$1 fr_cr_pid=$2 fr_cr_until=$(($(fr_uptime) + $3)) fr_cr_secs=$3 fr_cr_task=$4
	shift 4
	until "$@"; do
		fr_alive "$fr_cr_pid" || { echo "$fr_cr_name exited (its messages are above)"; return 1; }
		if [ "$(fr_uptime)" -ge "$fr_cr_until" ]; then
			kill "$fr_cr_pid" 2>/dev/null
			echo "$fr_cr_name did not $fr_cr_task within $fr_cr_secs s"
			return 1
		fi
		fr_nap 0.05
	done
}

# True when a file system is mounted at "$1" (read with the shell alone: this is polled).
fr_is_mounted() {
	while read -r _ fr_im_mp _; do
		[ "$fr_im_mp" = "$1" ] && return 0
	done </proc/mounts
	return 1
}

# nbdkit serves the image to the kernel's NBD client (attached by nbd-client, which then exits)
# as /dev/nbd0. No FUSE: a read is one range request, a refused one is EIO at once, a stalled one
# after 10 s (curl's whole request), and the next read reconnects. nbdkit runs in the foreground
# of its own session, its messages on the console (daemonized, it would drop them).
FR_NBD_DEV=/dev/nbd0

# Attaches /dev/nbd0 to the nbdkit that nbd-client reaches with "$@" (its server arguments).
fr_nbd_attach() {
	[ -e "$FR_RT$FR_NBD_DEV" ] || mknod "$FR_RT$FR_NBD_DEV" b 43 0
	chroot "$FR_RT" /usr/sbin/nbd-client "$@" "$FR_NBD_DEV" -readonly -block-size 4096 >/dev/null 2>&1 || return 1
	FR_NET_IMG=$FR_NBD_DEV
	FR_NET_RELEASE=fr_nbdkit_release
}

# Says on one line why nbdkit could not open the URL "$1": nbdkit opens it per NBD connection, so
# a failed attach says nothing. curl asks the same (the first byte; "$2…": how to sign) and tells:
# its error (refused, timed out, a certificate not from the stick's CA) or the server's refusal.
fr_nbd_why() {
	fr_why_url=$1
	shift
	if fr_why_status=$(chroot "$FR_RT" /usr/bin/curl -sS "$@" --proto "=${fr_why_url%%://*}" --cacert /etc/flashroot/ca.pem \
		--connect-timeout 5 --max-time 10 -r 0-0 -o /run/why.body -w '%{http_code}' "$fr_why_url" 2>"$FR_RT/run/why.err"); then
		case "$fr_why_status" in
		2*) echo "nbd-client could not attach $fr_why_url, though the server answers (nbdkit's messages are above)" ;;
		# S3 says why in the body (SignatureDoesNotMatch, AccessDenied, NoSuchKey).
		*) echo "HTTP $fr_why_status $(sed -n 's|.*<Code>\([^<]*\)</Code>.*|\1|p' "$FR_RT/run/why.body")" ;;
		esac
	else
		tail -n 1 "$FR_RT/run/why.err"
	fi
	return 1
}

# https://: nbdkit's curl plugin, on a socket in the runtime root. It starts once; each attach is
# a connection.
FR_NBD_SOCK=/run/nbdkit.sock
fr_nbdkit_mount() {
	if [ ! -S "$FR_RT$FR_NBD_SOCK" ]; then
		setsid chroot "$FR_RT" /usr/bin/nbdkit --foreground --readonly --unix "$FR_NBD_SOCK" --log=stderr \
			curl "url=$FR_LOWER" cainfo=/etc/flashroot/ca.pem protocols=https timeout=10 </dev/null 2>/dev/console &
		fr_nbdkit_pid=$!
		fr_client_ready nbdkit "$fr_nbdkit_pid" 10 "open its socket" [ -S "$FR_RT$FR_NBD_SOCK" ] || return 1
	fi
	fr_nbd_attach -unix "$FR_NBD_SOCK" || fr_nbd_why "$FR_LOWER"
}

# s3://BUCKET/PREFIX/IMAGE, signed: nbdkit's Perl plugin runs flashroot's S3 reader (libcurl signs
# each ranged GET with the key in the runtime root; none: a public object). WWW::Curl needs Perl's
# thread context, which only nbdkit's main thread has: nbdkit serves the one connection on its
# stdin (-s), which busybox nc accepts on loopback and hands to it (nbd-client has no other way to
# a process it did not start). nc listens on 127.0.0.1 alone, for one connection: nothing off this
# box can reach it, and nothing but the init's own processes runs yet. The booted root must keep lo up (every
# Debian network stack does: ifupdown's stop leaves lo alone).
FR_NBD_PORT=10809
fr_nbdkit_s3_mount() {
	fr_s3_url=$FR_NET_S3_URL/${FR_LOWER#s3://}
	ip link set lo up
	# shellcheck disable=SC2046 # no key: no argument
	setsid nc -l -p "$FR_NBD_PORT" 127.0.0.1 -e chroot "$FR_RT" /usr/bin/nbdkit -s --readonly --log=stderr \
		perl script=/usr/lib/flashroot/s3-reader.pl "url=$fr_s3_url" cainfo=/etc/flashroot/ca.pem $(fr_s3_key credentials=) </dev/null 2>/dev/console &
	fr_nbdkit_pid=$!
	# nc listens at once; nbd-client tries once, so wait for the port.
	fr_client_ready nc "$fr_nbdkit_pid" 10 "listen on 127.0.0.1:$FR_NBD_PORT" fr_listening "$FR_NBD_PORT" || return 1
	fr_nbd_attach 127.0.0.1 "$FR_NBD_PORT" && return 0
	kill "$fr_nbdkit_pid" 2>/dev/null
	# shellcheck disable=SC2046 # no key: no argument
	fr_nbd_why "$fr_s3_url" $(fr_s3_key -K)
}

# The stick's key for signed S3 reads: a curl config file in the runtime root (none: a public
# bucket, read unsigned), named after "$1" (credentials= for the S3 reader, -K for curl).
FR_S3_CURLRC=/etc/flashroot/s3.curlrc
fr_s3_key() {
	[ -e "$FR_RT$FR_S3_CURLRC" ] && echo "$1$FR_S3_CURLRC"
	return 0
}

# True when a TCP socket listens on 127.0.0.1:"$1" (read with the shell alone: this is polled).
fr_listening() {
	fr_ls_want=$(printf '0100007F:%04X' "$1")
	while read -r _ fr_ls_local _ fr_ls_state _; do
		[ "$fr_ls_local" = "$fr_ls_want" ] && [ "$fr_ls_state" = 0A ] && return 0
	done </proc/net/tcp
	return 1
}

# flashroot.toram has the image in RAM: detach it and end nbdkit, which has nothing left to serve
# (the S3 reader's nbdkit ends with its connection).
fr_nbdkit_release() {
	chroot "$FR_RT" /usr/sbin/nbd-client -d "$FR_NBD_DEV" >/dev/null && kill "$fr_nbdkit_pid" 2>/dev/null
	return 0
}

# Mounts the image with the client "$1" (chrooted, retried; it sets FR_NET_IMG, the image as a
# file or block device, and FR_NET_RELEASE, what lets go of it), then through dm-verity (from RAM
# with flashroot.toram). $2: what to check when the server cannot be reached.
fr_lower_image() {
	fr_net_conf "rebuild with flashroot build --lower $FR_LOWER"
	# The channel's on-stick copy (46-channel.sh): no server, no FUSE client.
	if [ -n "$FR_NET_COPY_DEV" ]; then
		fr_verity_mount "$FR_NET_COPY_DEV" "$FR_NET_COPY_AT"
		return 0
	fi
	fr_net_runtime
	mkdir -p "$FR_RT/mnt"
	# What the FUSE clients leave at their mount point; nbdkit's sets its own.
	FR_NET_IMG=$FR_RT/mnt/${FR_LOWER##*/}
	FR_NET_RELEASE="umount $FR_RT/mnt"
	fr_net_retry "reach $FR_LOWER" "$1" ||
		fr_fail lower "cannot reach $FR_LOWER after ${FR_TIMEOUT}s: ${FR_NET_ERROR:-no message}" \
			"$2; a longer flashroot.timeout= waits more"
	fr_toram "$FR_NET_IMG" "the server"
	if [ "$FR_IN_RAM" = yes ]; then
		# The copy goes through dm-verity like the remote image; the client is no longer needed.
		$FR_NET_RELEASE && fr_log "toram: the root runs from RAM; the server is no longer needed"
	fi
	fr_verity_mount "$FR_IMG"
	fr_net_hide_runtime
}

# http:// is read by the client the build chose (network.conf, read by fr_lower_image).
fr_http_mount() {
	if [ "$FR_NET_CLIENT" = rclone-http ]; then fr_rclone_web; else fr_httpfs_mount; fi
}

fr_lower_http() {
	fr_lower_image fr_http_mount "check the server is up and serves the image with range requests (httpfs2 needs Accept-Ranges: bytes, rclone an HTML index of the directory)"
}

fr_lower_https() {
	fr_lower_image fr_nbdkit_mount "check the server is up, serves the image with range requests (Accept-Ranges: bytes on HEAD), and has a certificate from the CA given to --ca-cert"
}

fr_lower_s3() {
	fr_lower_image fr_nbdkit_s3_mount "check the endpoint is up and the object is published there; a private bucket must let the stick's key (--signed-reads) read the object"
}
