# The consoles the person may be at. /sys/class/tty/console/active lists every console= the kernel
# writes to; tty0 there means "the VT in front", a name to resolve (a shell needs a real tty), and
# a serial console whose port has no UART behind it (type 0, a PC without a COM port given
# console=ttyS0) would take writes nobody reads until its buffer fills and a write blocks the boot.
# FR_SYS and FR_DEV are for tests, which stand in for /sys and /dev.

fr_find_consoles() {
	fr_sys=${FR_SYS:-/sys}
	fr_dev=${FR_DEV:-/dev}
	fr_found=
	fr_active=
	[ -r "$fr_sys/class/tty/console/active" ] && read -r fr_active <"$fr_sys/class/tty/console/active"
	for fr_name in $fr_active; do
		if [ "$fr_name" = tty0 ]; then
			fr_name=tty1
			[ -r "$fr_sys/class/tty/tty0/active" ] && read -r fr_name <"$fr_sys/class/tty/tty0/active"
		fi
		if [ -r "$fr_sys/class/tty/$fr_name/type" ]; then
			read -r fr_type <"$fr_sys/class/tty/$fr_name/type"
			[ "$fr_type" = 0 ] && continue
		fi
		[ -e "$fr_dev/$fr_name" ] || continue
		case " $fr_found " in *" $fr_dev/$fr_name "*) continue ;; esac
		fr_found="$fr_found $fr_dev/$fr_name"
	done
	echo "${fr_found# }"
}

fr_step_consoles() {
	FR_CONSOLES=$(fr_find_consoles)
	fr_debug "consoles: ${FR_CONSOLES:-/dev/console only}"
}
