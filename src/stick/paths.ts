/**
 * Every path on the stick's FAT, in one place: build, inspect, write, update, endurance and the
 * init's baked config all read them from here. Boot routes: syslinux and grub load the same
 * kernel and initramfs, and the firmware starts whatever sits at the removable-media path.
 */
export const KERNEL_PATH = '/boot/vmlinuz';
export const INITRD_PATH = '/boot/initrd.img';
/** The root's squashfs (a local lower). */
export const SQUASHFS_PATH = '/live/root.sqfs';
/** What was built, read by inspect and update. */
export const MANIFEST_PATH = '/live/manifest.json';
/**
 * A channel stick's rollback floor (src/network/channel.ts renderFloor): one sector, the highest
 * channel version this stick booted, rewritten in place by the init only when it rises.
 */
export const CHANNEL_FLOOR_PATH = '/live/channel.floor';
/** The kernel's modules, for a root without them (src/kernel/modules-layer.ts). */
export const MODULES_LAYER_PATH = '/live/modules.sqfs';
/** syslinux's directory: ldlinux.sys and the .c32 modules sit beside its config. */
export const SYSLINUX_DIR = '/syslinux';
export const SYSLINUX_CFG = `${SYSLINUX_DIR}/syslinux.cfg`;
/** The file UEFI firmware starts from removable media on x86-64. */
export const REMOVABLE_LOADER = '/EFI/BOOT/BOOTX64.EFI';
/**
 * Shim starts the loader and MokManager by these names from its own directory. fbx64.efi is left
 * out on purpose: shim runs it when present, and it writes boot entries into the machine's NVRAM.
 */
export const SHIM_SECOND_STAGE = '/EFI/BOOT/grubx64.efi';
export const SHIM_MOK_MANAGER = '/EFI/BOOT/mmx64.efi';
/** Debian's signed grub reads grub.cfg next to itself ($cmdpath) when /EFI/debian and /boot/grub have none. */
export const GRUB_CFG = '/EFI/BOOT/grub.cfg';
/** systemd-boot's configuration; never a /loader/random-seed, which it would rewrite on every boot. */
export const LOADER_CONF = '/loader/loader.conf';
/** systemd-boot lists every UKI in this directory as an entry. */
export const UKI_DIR = '/EFI/Linux';
export const ukiPath = (id: string): string => `${UKI_DIR}/${id}.efi`;
