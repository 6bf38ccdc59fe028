# Lower layer "s3fs": a directory tree in an S3 bucket (flashroot.lower=s3fs://BUCKET/PREFIX/), one
# object per file in s3fs's own format (flashroot publish ROOT s3fs://BUCKET/PREFIX/), mounted by
# s3fs (FUSE) running from the runtime root, path-style from the endpoint baked in, reads signed
# with the key in the runtime root (build --signed-reads) or anonymous. File-level: hard links,
# device nodes, xattrs and inode numbers are lost (build and publish list what the tree loses);
# see docs/network.md.

# s3fs mounts before it has asked the server anything and gives up later, leaving a dead mount:
# list the root through it (which waits for its check of the bucket) before calling it mounted.
# The options (docs/network.md has the measurements):
# - retries, connect_timeout, readwrite_timeout: a dead server is EIO in seconds, not minutes;
# - notsup_compat_dir: publish writes an object for every directory, so s3fs need not probe
#   'dir', 'dir_$folder$' and a listing for every name; enable_noobj_cache: nor ask again for
#   names that are absent (library search paths) while its stat cache (300 s) holds: three
#   lookups of two absent names and a present one cost 25 requests with neither, 5 with both;
# - tmpdir: s3fs keeps what it has read of every open file in a temporary file until it is
#   closed, in a tmpfs of its own (RAM, like the upper layer) rather than the runtime root's.
fr_s3fs_mount() {
	chroot "$FR_RT" /usr/bin/s3fs "$fr_s3_bucket" /mnt -o \
		"ro,allow_other,suid,dev,mp_umask=022,url=$FR_NET_S3_URL,use_path_request_style,$FR_NET_S3_AUTH,retries=2,connect_timeout=5,readwrite_timeout=10,stat_cache_expire=300,enable_noobj_cache,notsup_compat_dir,tmpdir=/tmp,logfile=/dev/console" ||
		return 1
	ls "$FR_RT/mnt" >/dev/null 2>&1 && return 0
	umount "$FR_RT/mnt" 2>/dev/null
	echo "s3fs cannot list the bucket at $FR_NET_S3_URL (its reason is on the console above)"
	return 1
}

fr_lower_s3fs() {
	fr_net_conf "rebuild with flashroot build --lower $FR_LOWER --endpoint URL"
	fr_rest=${FR_LOWER#s3fs://}
	fr_rest=${fr_rest%/}
	# s3fs names a prefix as BUCKET:/PREFIX.
	case "$fr_rest" in
	*/*) fr_s3_bucket="${fr_rest%%/*}:/${fr_rest#*/}" ;;
	*) fr_s3_bucket=$fr_rest ;;
	esac
	fr_net_runtime
	mount -t tmpfs -o mode=1777,nodev,nosuid,size=50% flashroot-s3fs-tmp "$FR_RT/tmp" ||
		fr_fail lower "cannot create s3fs's temporary directory $FR_RT/tmp" "not enough RAM?"
	fr_net_retry "mount $FR_LOWER" fr_s3fs_mount ||
		fr_fail lower "cannot mount $FR_LOWER after ${FR_TIMEOUT}s: ${FR_NET_ERROR:-no message}" \
			"check the S3 server at $FR_NET_S3_URL, that the prefix holds a tree published with flashroot publish, and the key (--signed-reads); a longer flashroot.timeout= waits more"
	mount --bind "$FR_RT/mnt" /run/flashroot/lower ||
		fr_fail lower "cannot bind $FR_RT/mnt to /run/flashroot/lower" "report this as a bug"
	fr_net_hide_runtime
	fr_log "lower $FR_LOWER (s3fs, file-level)"
}
