# Network bring-up for a networked lower layer (flashroot.lower=http://…). The step loads the
# drivers of the network controllers there are (fr_coldplug_nics; the build adds the NIC module
# group for such lowers) while the background pass loads the storage drivers; the interface
# is configured by DHCP (busybox udhcpc with our script) or by a static ip= on the kernel command
# line, in the kernel's format: ip=CLIENT::GATEWAY:NETMASK::DEVICE::DNS0 (Debian's kernel has no
# ip= autoconfiguration, so it leaves the parameter to us).

# Where DNS servers go and where udhcpc's output is kept for the FAIL line: variables, so tests of
# this fragment write inside their sandbox, never to the host's /etc or /run.
FR_RESOLV=/etc/resolv.conf
FR_DHCP_LOG=/run/flashroot/udhcpc.log

fr_lower_is_networked() {
	case "$FR_LOWER" in *://*) return 0 ;; esac
	return 1
}

# The interface ip= names, or the first one that is not loopback.
fr_net_iface() {
	if [ -n "$fr_ip_dev" ]; then
		[ -e "/sys/class/net/$fr_ip_dev" ] && echo "$fr_ip_dev"
		return
	fi
	for fr_dev in /sys/class/net/*; do
		[ "${fr_dev##*/}" = lo ] || [ ! -e "$fr_dev" ] || { echo "${fr_dev##*/}"; return; }
	done
}

fr_net_static() {
	ifconfig "$FR_NET_IFACE" "$fr_ip_addr" netmask "${fr_ip_mask:-255.255.255.0}" up || return 1
	[ -z "$fr_ip_gw" ] || route add default gw "$fr_ip_gw" dev "$FR_NET_IFACE" || return 1
	: >"$FR_RESOLV"
	[ -z "$fr_ip_dns" ] || echo "nameserver $fr_ip_dns" >"$FR_RESOLV"
	fr_log "network $FR_NET_IFACE $fr_ip_addr/${fr_ip_mask:-255.255.255.0} via ${fr_ip_gw:-none} dns ${fr_ip_dns:-none} (ip=)"
}

# No network: a channel stick with an on-stick copy (build --offline-copy) goes on without it, and
# 46-channel.sh boots the copy or fails with this reason (FR_NET_DOWN); any other stick fails here.
fr_net_down() {
	if grep -q '^FR_CH_COPY=' /etc/flashroot/channel.conf 2>/dev/null; then
		FR_NET_DOWN=$1 FR_NET_DOWN_HINT=$2
		fr_log "$1: looking for the channel's on-stick copy"
		return 0
	fi
	fr_fail network "$1" "$2"
}

# Ethernet controllers (PCI class 0x0200) no driver of the initramfs took: the build leaves the
# drivers of NICs few boxes booting from a stick have to the stick (src/initramfs/stick-drivers.ts),
# read here and only here. Wi-Fi (0x0280) is not looked for: no wireless driver is carried at all.
fr_nic_drivers_from_stick() {
	[ -n "$FR_STICK_DRIVERS" ] || return 0
	fr_aliases=
	for fr_d in "$FR_PCI_DEVICES"/*; do
		read -r fr_class 2>/dev/null <"$fr_d/class" || continue
		case "$fr_class" in 0x0200*) ;; *) continue ;; esac
		[ ! -e "$fr_d/driver" ] && read -r fr_alias 2>/dev/null <"$fr_d/modalias" || continue
		fr_aliases="$fr_aliases $fr_alias"
		fr_nic=${fr_d##*/}
	done
	[ -n "$fr_aliases" ] || return 0
	fr_log "no driver in the initramfs for the network controller at $fr_nic: loading it from the stick ($FR_STICK_DRIVERS)"
	fr_mount_medium
	# shellcheck disable=SC2086 # one word per alias
	fr_with_modules_image "$FR_MEDIUM_MNT$FR_STICK_DRIVERS" modprobe -qa $fr_aliases ||
		fr_fail network "cannot mount the stick's drivers $FR_STICK_DRIVERS" "the stick may be damaged: write it again with flashroot write"
	# As without them: a network lower leaves the stick unmounted (46-channel.sh mounts it again).
	umount -l "$FR_MEDIUM_MNT"
	FR_MEDIUM_DEV=
}

fr_step_network() {
	fr_lower_is_networked || return 0
	# The client's layer needs no network: it is mounted and read while the NIC comes up.
	[ ! -f "$FR_NET_LAYER" ] || fr_net_layer
	fr_coldplug_nics
	fr_nic_drivers_from_stick
	fr_ip_addr='' fr_ip_gw='' fr_ip_mask='' fr_ip_dev='' fr_ip_dns=''
	case "${FR_IP:-dhcp}" in
	dhcp | on | any | '') ;;
	*) IFS=: read -r fr_ip_addr _ fr_ip_gw fr_ip_mask _ fr_ip_dev _ fr_ip_dns _ <<EOF
$FR_IP
EOF
		;;
	esac
	fr_deadline=$(($(fr_uptime) + FR_TIMEOUT))
	until FR_NET_IFACE=$(fr_net_iface) && [ -n "$FR_NET_IFACE" ]; do
		if [ "$(fr_uptime)" -ge "$fr_deadline" ]; then
			fr_net_down "no network interface${fr_ip_dev:+ named $fr_ip_dev} after ${FR_TIMEOUT}s" \
				"is the NIC's driver in the initramfs? add it with flashroot.modules=DRIVER, or check the cable/VM network"
			return 0
		fi
		fr_coldplug_waiting
		sleep 0.2
	done
	ifconfig lo 127.0.0.1 up
	if [ -n "$fr_ip_addr" ]; then
		fr_net_static || fr_fail network "cannot configure $FR_NET_IFACE from ip=$FR_IP" "use ip=CLIENT::GATEWAY:NETMASK::DEVICE::DNS"
		return 0
	fi
	ifconfig "$FR_NET_IFACE" up
	until udhcpc -i "$FR_NET_IFACE" -s /etc/flashroot/udhcpc.sh -f -q -n -t 3 -T 2 >"$FR_DHCP_LOG" 2>&1; do
		if [ "$(fr_uptime)" -ge "$fr_deadline" ]; then
			fr_net_down "no DHCP lease on $FR_NET_IFACE after ${FR_TIMEOUT}s: $(tail -n 1 "$FR_DHCP_LOG")" \
				"check the network has a DHCP server, or give a static ip=CLIENT::GATEWAY:NETMASK::DEVICE::DNS"
			return 0
		fi
		fr_log "no DHCP lease on $FR_NET_IFACE yet; retrying"
	done
	grep '^flashroot:' "$FR_DHCP_LOG"
}
