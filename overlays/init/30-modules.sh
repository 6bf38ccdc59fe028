# needs: module-groups=storage
# Loads the modules the build listed for the steps (filesystems, loop, overlay), then in the
# background the device drivers it listed and coldplug of the hardware sysfs shows by modalias;
# the device waits repeat the coldplug as devices keep appearing.

FR_SEEN_ALIASES=""

# One modprobe for every alias not seen before: it reads the module database once, where a call
# per alias read it a hundred times (seconds of a boot under emulation). Aliases hold no spaces
# or glob characters (sysfs writes them), so they split as words. "$@": the modalias files to
# read, every device's by default.
fr_coldplug() {
	fr_new=
	[ $# -gt 0 ] || set -- /sys/bus/*/devices/*/modalias
	for fr_f in "$@"; do
		[ -r "$fr_f" ] || continue
		read -r fr_alias <"$fr_f" || continue
		case "$FR_SEEN_ALIASES" in *" $fr_alias "*) continue ;; esac
		FR_SEEN_ALIASES="$FR_SEEN_ALIASES $fr_alias "
		fr_new="$fr_new $fr_alias"
	done
	# shellcheck disable=SC2086 # one word per alias
	[ -z "$fr_new" ] || modprobe -qa $fr_new 2>/dev/null
	return 0
}

# Aliases the background pass handled, for the passes after it (a subshell's variables are lost).
FR_SEEN_FILE=/run/flashroot/coldplug.seen

# The drivers of the network controllers there are, by modalias: the network step loads them
# itself, in the foreground, while the background pass loads the storage drivers (the NIC is needed
# first, the stick later), and a box has one of the NIC drivers the initramfs carries, not all.
# PCI class 0x02; a virtio NIC's PCI function (virtio_pci) brings a virtio device of type 1, which
# virtio_net drives. A device that has its driver already (virtio_pci, from the background pass)
# is skipped: a modprobe that has nothing to load still reads the module database (about 50 ms
# under emulation).
FR_PCI_DEVICES=/sys/bus/pci/devices
FR_VIRTIO_DEVICES=/sys/bus/virtio/devices
fr_coldplug_nics() {
	set --
	for fr_d in "$FR_PCI_DEVICES"/*; do
		[ ! -e "$fr_d/driver" ] && read -r fr_class 2>/dev/null <"$fr_d/class" || continue
		case "$fr_class" in 0x02*) set -- "$@" "$fr_d/modalias" ;; esac
	done
	[ $# -eq 0 ] || fr_coldplug "$@"
	set --
	for fr_d in "$FR_VIRTIO_DEVICES"/*; do
		[ ! -e "$fr_d/driver" ] && read -r fr_alias 2>/dev/null <"$fr_d/modalias" || continue
		case "$fr_alias" in virtio:d00000001v*) set -- "$@" "$fr_d/modalias" ;; esac
	done
	[ $# -eq 0 ] || fr_coldplug "$@"
}

# The device drivers the build named (the USB path first), then whatever else coldplug finds.
fr_coldplug_pass() {
	# shellcheck disable=SC2086 # one word per module
	[ -z "$FR_DRIVERS" ] || modprobe -qa $FR_DRIVERS 2>/dev/null
	fr_coldplug
	echo "$FR_SEEN_ALIASES" >"$FR_SEEN_FILE"
}

# A wait for a device (the stick, a NIC) looks for it first and calls this when it is missing:
# nothing while the background pass runs (it loads the same drivers), else a pass of its own.
fr_coldplug_waiting() {
	[ -n "$FR_COLDPLUG_PID" ] && fr_alive "$FR_COLDPLUG_PID" && return 0
	fr_coldplug_done
	fr_coldplug
}

# Every driver loaded: before a shell (its keyboard) and before the root's init, as when the pass
# ran in the foreground.
fr_coldplug_done() {
	[ -n "$FR_COLDPLUG_PID" ] || return 0
	wait "$FR_COLDPLUG_PID" 2>/dev/null
	FR_COLDPLUG_PID=
	[ -r "$FR_SEEN_FILE" ] && IFS= read -r FR_SEEN_ALIASES <"$FR_SEEN_FILE"
	return 0
}

# The modules as a squashfs in this initramfs (src/initramfs/modules-image.ts), mounted over their
# directory so that only those that load are read; squashfs and loop, which the mount takes, lie
# beside it as plain files. Unmounted before switch_root (fr_umount_modules), which frees it.
FR_MODULES_IMG=/lib/flashroot/modules.sqfs
FR_MODULES_DIR=/lib/modules/$(uname -r)

fr_mount_modules() {
	[ -d "$FR_MODULES_DIR" ] ||
		fr_fail modules "this initramfs holds modules for $(ls /lib/modules), not for the running kernel $(uname -r)" \
			"boot the kernel this initramfs was built with, or rebuild it with flashroot build"
	modprobe -q squashfs 2>/dev/null
	modprobe -q loop 2>/dev/null
	mount -t squashfs -o ro,loop "$FR_MODULES_IMG" "$FR_MODULES_DIR" 2>"${FR_SEEN_FILE%/*}/mount.err" ||
		fr_fail modules "cannot mount the initramfs's modules $FR_MODULES_IMG: $(tail -n 1 "${FR_SEEN_FILE%/*}/mount.err")" \
			"the kernel needs squashfs and loop (as modules or built in): rebuild with a kernel that has them"
}

fr_umount_modules() {
	umount -d "$FR_MODULES_DIR" 2>/dev/null || fr_log "warning: cannot unmount $FR_MODULES_DIR; its modules stay in RAM"
}

# Runs "$@" with another modules image (drivers the build left on the stick, 45-network.sh)
# stacked over the initramfs's: an overlay with it on top, whose database lists the modules of
# both. Unmounted after, lazily (a modprobe of the background pass may have opened files through
# the overlay): what loaded stays loaded, and nothing holds the image's medium.
fr_with_modules_image() {
	fr_img=$1
	shift
	fr_dir=/run/flashroot/modules-extra
	mkdir -p "$fr_dir"
	mount -t squashfs -o ro,loop "$fr_img" "$fr_dir" || return 1
	fr_rc=1
	if mount -t overlay -o "ro,lowerdir=$fr_dir:$FR_MODULES_DIR" overlay "$FR_MODULES_DIR"; then
		"$@"
		fr_rc=0
		umount -l "$FR_MODULES_DIR"
	fi
	umount -l -d "$fr_dir"
	return "$fr_rc"
}

fr_step_modules() {
	mkdir -p "${FR_SEEN_FILE%/*}"
	fr_mount_modules
	# Device drivers load in the background: the stick is usually there once its USB drivers have
	# loaded, and the probes of the others (SATA, SD, a CD-ROM, a GPU) need not delay finding it
	# (about 2 s of a boot under emulation).
	fr_coldplug_pass &
	FR_COLDPLUG_PID=$!
	# One modprobe for all: each call reads the module database anew (about 50 ms under emulation).
	# Some modules refuse hardware that is absent (CPU crypto, controllers); the steps that need a
	# module report its absence when they fail, so only debug mode lists these.
	# shellcheck disable=SC2086 # one word per module
	modprobe -qa $FR_MODULES 2>/dev/null || [ "$FR_DEBUG" != 1 ] ||
		for fr_m in $FR_MODULES; do
			modprobe -q "$fr_m" 2>/dev/null || fr_debug "module $fr_m not loaded"
		done
}
