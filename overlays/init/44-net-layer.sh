# needs: module-groups=fs
# A network lower's NIC drivers and FUSE client come from the stick (src/network/net-layer.ts):
# once the kernel's USB driver has found the stick, the network layer is copied into RAM (so the
# box keeps running without the stick) and mounted through dm-verity with the table baked beside
# it; its modules/ is bound onto the initramfs's NIC driver directory for the network step to load,
# its rt/ is the lower of the FUSE client's runtime root (52-lower-http.sh fr_net_runtime).

FR_NET_RAM=/run/flashroot/net
FR_NET_LAYER_MNT=$FR_NET_RAM/layer

fr_step_net_layer() {
	fr_lower_is_networked || return 0
	[ -r /etc/flashroot/network.conf ] || return 0
	. /etc/flashroot/network.conf
	[ -n "$FR_NET_LAYER" ] || return 0
	mkdir -p "$FR_NET_RAM"
	# A cap, not an allocation: the layer's file and the runtime root's settings.
	mount -t tmpfs -o mode=0755,size=$((FR_NET_LAYER_BYTES / 1048576 + 32))m flashroot-net "$FR_NET_RAM" ||
		fr_fail lower "cannot create $FR_NET_RAM for the network layer" "not enough RAM?"
	fr_mount_medium
	cp "$FR_MEDIUM_MNT$FR_NET_LAYER" "$FR_NET_RAM/layer.img" 2>/run/flashroot/layer.err ||
		fr_fail lower "cannot read the network layer $FR_NET_LAYER from the stick: $(tail -n 1 /run/flashroot/layer.err)" \
			"the stick is damaged or was written from another build: write the image flashroot build made again"
	# A channel keeps the stick mounted for its rollback floor (46-channel.sh, 56-channel-floor.sh).
	[ -r "$FR_CH_CONF" ] || { umount "$FR_MEDIUM_MNT" && FR_MEDIUM_DEV=; }
	mkdir -p "$FR_NET_LAYER_MNT"
	fr_verity_squashfs flashroot-net "$FR_NET_RAM/layer.img" "$FR_NET_LAYER_BYTES" "$FR_NET_LAYER_VERITY" "$FR_NET_LAYER_MNT" ||
		fr_fail lower "the network layer $FR_NET_LAYER on the stick is unusable: $FR_VERITY_ERROR" \
			"the stick is damaged or was written from another build: write the image flashroot build made again"
	mount --bind "$FR_NET_LAYER_MNT/modules" "/lib/modules/$(uname -r)/$FR_NET_LAYER_MODULES" ||
		fr_fail lower "cannot bind the network layer's drivers" "report this as a bug"
	# NICs seen before the drivers were there get another try at the network step's coldplug.
	FR_SEEN_ALIASES=""
	fr_log "network layer $FR_NET_LAYER ($((FR_NET_LAYER_BYTES / 1048576)) MiB, dm-verity)"
}

# After the network is up: the drivers are loaded, the bind goes (switch_root keeps no mount of
# the initramfs); the layer stays mounted for the FUSE client.
fr_net_layer_release() {
	[ -n "$FR_NET_LAYER" ] || return 0
	umount "/lib/modules/$(uname -r)/$FR_NET_LAYER_MODULES" 2>/dev/null
	return 0
}
