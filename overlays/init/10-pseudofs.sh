# Kernel filesystems the later steps read (/proc/cmdline, /sys modaliases, /dev nodes).

fr_step_pseudofs() {
	mkdir -p /proc /sys /dev /run
	mount -t proc -o nosuid,nodev,noexec proc /proc
	mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
	mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
	mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
	mkdir -p /run/flashroot
}
