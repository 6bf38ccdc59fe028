# Lower layer "sshfs": a directory tree on an SSH server (flashroot.lower=sshfs://USER@HOST[:PORT]/PATH),
# mounted by sshfs (FUSE) running from the runtime root, logging in with the key baked into the
# initramfs. File-level: hard links, device nodes and inode numbers are not what the server has
# (flashroot build lists what the tree loses); see docs/network.md.

fr_sshfs_mount() {
	# no_contain_symlinks: absolute symlinks (/lib -> usr/lib) are the root's own, not to be
	# rejected. reconnect + ServerAlive*: a dead server turns into errors within ~30 s.
	chroot "$FR_RT" /usr/bin/sshfs "$fr_ssh_target" /lower -p "$fr_ssh_port" -o \
		"ro,allow_other,suid,dev,no_contain_symlinks,kernel_cache,reconnect,ServerAliveInterval=15,ServerAliveCountMax=2,ConnectTimeout=10,BatchMode=yes,IdentityFile=/etc/flashroot/ssh/id,UserKnownHostsFile=/etc/flashroot/ssh/known_hosts,StrictHostKeyChecking=$FR_NET_SSH_STRICT"
}

fr_lower_sshfs() {
	fr_net_conf "rebuild with flashroot build --lower sshfs://USER@HOST/PATH --ssh-key KEY"
	fr_rest=${FR_LOWER#sshfs://}
	fr_ssh_host=${fr_rest%%/*}
	fr_ssh_port=22
	case "$fr_ssh_host" in *:*) fr_ssh_port=${fr_ssh_host##*:} fr_ssh_host=${fr_ssh_host%:*} ;; esac
	fr_ssh_target="$fr_ssh_host:/${fr_rest#*/}"
	fr_net_runtime
	mkdir -p "$FR_RT/lower"
	fr_net_retry "reach $FR_LOWER" fr_sshfs_mount ||
		fr_fail lower "cannot mount $FR_LOWER after ${FR_TIMEOUT}s: ${FR_NET_ERROR:-no message}" \
			"check the SSH server, the key (--ssh-key) and the host key (--ssh-known-hosts); a longer flashroot.timeout= waits more"
	mount --bind "$FR_RT/lower" /run/flashroot/lower ||
		fr_fail lower "cannot bind $FR_RT/lower to /run/flashroot/lower" "report this as a bug"
	fr_net_hide_runtime
	fr_log "lower $FR_LOWER (sshfs, file-level)"
}
