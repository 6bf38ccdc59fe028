/**
 * Every path on the stick's FAT, in one place: build, inspect, write, update, endurance and the
 * init's baked config all read them from here. Boot routes: syslinux and grub load the same
 * kernel and initramfs, and the firmware starts whatever sits at the removable-media path.
 */

/**
 * A stick holds up to two systems, slots a and b (issue 16): one current, the other the fallback or
 * the one on trial. A fresh build fills slot a only.
 */
export const SLOTS = ['a', 'b'] as const;
export type SlotId = (typeof SLOTS)[number];
export const otherSlot = (s: SlotId): SlotId => (s === 'a' ? 'b' : 'a');

/**
 * The kernel and initramfs each loader entry names: one pair per slot, named by the slot, so the
 * loaders' configs never change but for their default line. An update writes only the other slot's.
 */
export const kernelPath = (slot: SlotId): string => `/boot/vmlinuz-${slot}`;
export const initrdPath = (slot: SlotId): string => `/boot/initrd-${slot}.img`;
/**
 * The root's squashfs (a local lower) and the modules layer are named by their content (the first
 * 16 hex digits of their sha256): only the slot's initramfs names them, so the two slots share a
 * file when it is the same, and an update never writes over one a slot still uses.
 */
export const squashfsPath = (sha256: string): string => `/live/root-${sha256.slice(0, 16)}.sqfs`;
/**
 * A channel stick's rollback floor (src/network/channel.ts renderFloor): one sector, the highest
 * channel version this stick booted, rewritten in place by the init only when it rises.
 */
export const CHANNEL_FLOOR_PATH = '/live/channel.floor';
/** The kernel's modules, for a root without them (src/kernel/modules-layer.ts). */
export const modulesLayerPath = (sha256: string): string => `/live/modules-${sha256.slice(0, 16)}.sqfs`;
/** Drivers the initramfs leaves to the stick (src/initramfs/stick-drivers.ts), read only when a device needs one. */
export const stickDriversPath = (sha256: string): string => `/live/drivers-${sha256.slice(0, 16)}.sqfs`;
/** What a slot holds (src/stick/slots.ts): its build, its files with their sha256; read by inspect and update. */
export const slotManifestPath = (slot: SlotId): string => `/live/slot-${slot}.json`;
/** Which slot is current, which is on trial and its tries left: one sector, rewritten in place. */
export const SLOT_STATE_PATH = '/live/slots';
/** Every file a slot may own lives in these directories (update removes the ones no slot names). */
export const SLOT_FILE_DIRS = ['/boot', '/live', '/EFI/Linux'] as const;
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
/** A slot's UKIs (systemd-boot route): the normal entry and the rescue shell. */
export const ukiId = (slot: SlotId, rescue = false): string => `flashroot-${slot}${rescue ? '-rescue' : ''}`;
