#!/bin/sh
# busybox udhcpc calls this with the event in $1 and the lease in its environment
# (interface, ip, subnet, router, dns). Debian's default script needs ifupdown tools the
# initramfs does not have; this one configures the interface, the default route and DNS.
# shellcheck disable=SC2154
case "$1" in
deconfig)
	ifconfig "$interface" 0.0.0.0 up
	;;
bound | renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	if [ -n "$router" ]; then
		while route del default dev "$interface" 2>/dev/null; do :; done
		for gw in $router; do route add default gw "$gw" dev "$interface"; break; done
	fi
	: >/etc/resolv.conf
	for ns in $dns; do echo "nameserver $ns" >>/etc/resolv.conf; done
	[ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
	echo "flashroot: network $interface $ip/${subnet:-255.255.255.0} via ${router:-none} dns ${dns:-none} (dhcp)"
	;;
esac
exit 0
