/** Which modules the init loads before its steps and which in the background (30-modules.sh), on the real kernel. */
import { describe, expect, it } from 'vitest';
import { namedModules } from '../../../src/initramfs/build.js';
import { assembleInit, loadFragments } from '../../../src/initramfs/init-script.js';
import { resolveModules } from '../../../src/initramfs/modules.js';
import { installedKernel } from '../../helpers/kernels.js';

const MODULES_DIR = (await installedKernel()).modulesDir;

describe('namedModules', () => {
  it('puts what the steps use first and the device drivers apart, USB before SATA, each module once; no NIC driver by name', async () => {
    const init = assembleInit(await loadFragments());
    const o = { modulesDir: MODULES_DIR, extraModuleGroups: ['network', 'nic', 'verity'] as const };
    const { modules, drivers } = await namedModules(o, init);
    expect(modules).toEqual(expect.arrayContaining(['vfat', 'squashfs', 'loop', 'overlay', 'fuse', 'dm_verity']));
    expect(drivers).toEqual(expect.arrayContaining(['xhci_pci', 'usb_storage', 'ata_piix', 'usbhid']));
    expect(modules).not.toEqual(expect.arrayContaining(['usb_storage']));
    expect(modules.filter((m) => drivers.includes(m))).toEqual([]);
    expect(drivers.indexOf('usb_storage')).toBeLessThan(drivers.indexOf('ata_piix'));
    // The NIC's driver loads by the class of the network controller there is (30-modules.sh), before these.
    for (const nic of ['e1000', 'e1000e', 'r8169', 'virtio_net']) expect(drivers).not.toContain(nic);
    // virtio_pci is a storage driver too.
    expect(drivers).toContain('virtio_pci');
    // Every other module of the initramfs is named once; what is left out is the NIC group's.
    const all = (await resolveModules(MODULES_DIR, { groups: [...init.moduleGroups, ...o.extraModuleGroups] as never })).loadOrder;
    const nicGroup = (await resolveModules(MODULES_DIR, { groups: ['nic'] })).loadOrder;
    const unnamed = all.filter((m) => !modules.includes(m) && !drivers.includes(m));
    expect(unnamed).toEqual(expect.arrayContaining(['e1000', 'e1000e', 'r8169']));
    expect(unnamed.filter((m) => !nicGroup.includes(m))).toEqual([]);
    expect([...modules, ...drivers].length).toBe(new Set([...modules, ...drivers]).size);
  });
});
