/**
 * The named sets of kernel modules the rest of flashroot asks for. This is the one place that
 * knows module names; everything else (files, dependencies, softdeps) comes from the kernel's own
 * database. A missing module in an optional group is reported; in a required group it stops the build
 * unless the kernel has it built in.
 */
export interface ModuleGroup {
  why: string;
  required: boolean;
  /**
   * Drivers of a device the init waits for (the stick, a NIC, a keyboard) rather than modules a
   * step uses: the init loads them in the background, and each wait looks for its device first.
   */
  device: boolean;
  modules: readonly string[];
}

export const MODULE_GROUPS = {
  storage: {
    why: 'find the stick or disk: USB host controllers, USB mass storage, SATA, virtio, NVMe, SD/MMC',
    required: false,
    device: true,
    modules: [
      'xhci_pci', 'ehci_pci', 'uhci_hcd', 'ohci_pci',
      'usb_storage', 'uas', 'sd_mod',
      'ata_piix', 'ahci',
      'virtio_pci', 'virtio_blk', 'virtio_scsi',
      'nvme',
      'sdhci_pci', 'sdhci_acpi', 'mmc_block',
    ],
  },
  fs: {
    why: 'mount the FAT partition, loop-mount the squashfs and stack the overlay',
    required: true,
    device: false,
    // nls_cp437 and nls_ascii are vfat's default codepage and iocharset: without them mount fails.
    modules: ['vfat', 'nls_cp437', 'nls_ascii', 'nls_utf8', 'nls_iso8859_1', 'squashfs', 'loop', 'overlay'],
  },
  input: {
    why: 'type into the rescue shell on a USB or PS/2 keyboard',
    required: false,
    device: true,
    modules: ['xhci_pci', 'usbhid', 'hid_generic', 'atkbd'],
  },
  network: {
    why: 'reach a networked lower layer: FUSE, raw sockets for DHCP',
    required: false,
    device: false,
    modules: ['fuse', 'af_packet'],
  },
  nbd: {
    why: "the kernel's NBD client, which nbdkit serves an https:// image to",
    required: false,
    device: false,
    modules: ['nbd'],
  },
  nic: {
    why: 'common NICs, for a networked lower (failover comes via deps)',
    required: false,
    device: true,
    modules: ['virtio_pci', 'virtio_net', 'e1000', 'e1000e', 'r8169'],
  },
  verity: {
    why: 'check a network image block by block against the root hash baked into the stick (dm-verity)',
    required: true,
    device: false,
    modules: ['dm_verity'],
  },
} as const satisfies Record<string, ModuleGroup>;

export type ModuleGroupName = keyof typeof MODULE_GROUPS;

/**
 * Driver classes by where the kernel tree keeps them (paths in modules.dep), for `--hardware
 * generic`: every driver of a class, for a box the build never saw. NICs matter only to a network
 * lower: with a local lower the booted system loads its NIC driver from its own modules.
 */
export interface DriverClass {
  why: string;
  /** Prefixes of module paths relative to /lib/modules/<version>. */
  paths: readonly string[];
  /** Prefixes left out of `paths`. */
  except: readonly string[];
  /**
   * Prefixes of `paths` kept out of the initramfs and carried on the stick instead, as an image the
   * init stacks over the initramfs's modules only when a device has no driver there (45-network.sh):
   * every megabyte of initramfs is read through the firmware's disk services at every boot.
   */
  onStick: readonly string[];
  networkOnly: boolean;
}

/** NIC drivers (under kernel/drivers/net/ethernet/) of adapters a box booting from a stick rarely has. */
const RARE_NICS = [
  // 10 GbE and faster server adapters: with the cards below, 27 of the 38 MiB of NIC drivers on 6.1.
  ...['mellanox/', 'chelsio/', 'qlogic/', 'netronome/', 'cavium/', 'sfc/', 'broadcom/bnx2x/', 'broadcom/bnxt/', 'intel/ice/', 'intel/i40e/', 'intel/iavf/', 'intel/ixgbe/', 'intel/ixgbevf/', 'intel/igbvf/', 'intel/ixgb/', 'intel/fm10k/'],
  ...['huawei/', 'emulex/', 'pensando/', 'fungible/', 'marvell/octeontx2/', 'marvell/prestera/', 'brocade/', 'neterion/', 'myricom/', 'cisco/', 'amazon/', 'google/', 'microsoft/', 'tehuti/', 'amd/xgbe/'],
  // PCI cards of the 1990s (10/100 Mbit/s) and Sun's own.
  ...['3com/', '8390/', 'dec/', 'amd/pcnet32', 'amd/amd8111e', 'adaptec/', 'alteon/', 'packetengines/', 'natsemi/', 'xircom/', 'fealnx', 'smsc/epic100', 'sun/'],
].map((d) => `kernel/drivers/net/ethernet/${d}`);

export const DRIVER_CLASSES = {
  storage: {
    why: 'every storage controller: SATA/PATA, SCSI/SAS HBAs, NVMe, SD/MMC, USB host controllers and mass storage, virtio',
    paths: ['kernel/drivers/ata/', 'kernel/drivers/scsi/', 'kernel/drivers/nvme/host/', 'kernel/drivers/mmc/', 'kernel/drivers/usb/host/', 'kernel/drivers/usb/storage/', 'kernel/drivers/message/fusion/', 'kernel/drivers/block/virtio_blk'],
    // Fibre Channel and iSCSI HBAs reach storage over a network, never a boot medium: 9 of the 22 MB of drivers/scsi on 6.1.
    onStick: [],
    except: ['lpfc/', 'qla2xxx/', 'qla4xxx/', 'bfa/', 'cxgbi/', 'csiostor/', 'libfc/', 'qedf/', 'qedi/', 'bnx2fc/', 'bnx2i/', 'be2iscsi/', 'fcoe/', 'fnic/', 'snic/', 'elx/'].map((d) => `kernel/drivers/scsi/${d}`),
    networkOnly: false,
  },
  hid: {
    why: 'every keyboard for the rescue shell: USB HID and PS/2',
    paths: ['kernel/drivers/hid/', 'kernel/drivers/input/keyboard/', 'kernel/drivers/input/serio/'],
    except: [],
    onStick: [],
    networkOnly: false,
  },
  nic: {
    why: 'every wired and USB network card, to reach a network lower (server adapters of 10 GbE and up and 1990s PCI cards from the stick)',
    paths: ['kernel/drivers/net/ethernet/', 'kernel/drivers/net/usb/'],
    except: [],
    onStick: RARE_NICS,
    networkOnly: true,
  },
} as const satisfies Record<string, DriverClass>;

export type DriverClassName = keyof typeof DRIVER_CLASSES;
