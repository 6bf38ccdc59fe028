# needs: module-groups=fs
# The root the system sees: overlayfs, writes going to a tmpfs upper layer in RAM.

# What the booted system can read about its own boot; `df /run/flashroot/rw` shows the upper's use.
fr_write_state() {
	cat >/run/flashroot/state <<-EOF_STATE
		lower=$FR_LOWER
		medium=${FR_MEDIUM_DEV:-}
		in_ram=${FR_IN_RAM:-no}
		upper=/run/flashroot/rw
		upper_size=$FR_SIZE
		verified=$FR_VERIFY
		modules_layer=${FR_KMODS_DIR:-}
		channel=${FR_CH_NAME:-}
		channel_version=${FR_CH_VERSION:-}
	EOF_STATE
}

fr_step_overlay() {
	mkdir -p /run/flashroot/rw /newroot
	mount -t tmpfs -o "size=$FR_SIZE,mode=0755" tmpfs /run/flashroot/rw ||
		fr_fail overlay "cannot create the tmpfs upper layer (size=$FR_SIZE)" "boot with a smaller flashroot.size= (e.g. 25%)"
	mkdir -p /run/flashroot/rw/upper /run/flashroot/rw/work
	# The root over the modules layer (48-kmods.sh), when there is one: the root's own files win.
	mount -t overlay -o "lowerdir=/run/flashroot/lower${FR_KMODS_DIR:+:$FR_KMODS_DIR},upperdir=/run/flashroot/rw/upper,workdir=/run/flashroot/rw/work" \
		overlay /newroot ||
		fr_fail overlay "cannot mount the overlay root" "is overlay in the initramfs? rebuild with flashroot build"
	fr_write_state
}
