/**
 * Where the boot files live on the stick's FAT, for every route that reads them: syslinux and
 * grub load the same kernel and initramfs, and the firmware starts whatever sits at the
 * removable-media path.
 */
export const KERNEL_PATH = '/boot/vmlinuz';
export const INITRD_PATH = '/boot/initrd.img';
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
