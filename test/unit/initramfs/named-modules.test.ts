/** Which modules the init loads before its steps and which in the background (30-modules.sh), on the real kernel. */
import { describe, expect, it } from 'vitest';
import { namedModules } from '../../../src/initramfs/build.js';
import { assembleInit, loadFragments } from '../../../src/initramfs/init-script.js';
import { resolveModules } from '../../../src/initramfs/modules.js';
import { installedKernel } from '../../helpers/kernels.js';

const MODULES_DIR = (await installedKernel()).modulesDir;

describe('namedModules', () => {
  it('puts what the steps use first and the device drivers apart, USB before SATA, each module once', async () => {
    const init = assembleInit(await loadFragments());
    const o = { modulesDir: MODULES_DIR, extraModuleGroups: ['network', 'nic', 'verity'] as const };
    const { modules, drivers } = await namedModules(o, init);
    expect(modules).toEqual(expect.arrayContaining(['vfat', 'squashfs', 'loop', 'overlay', 'fuse', 'dm_verity']));
    expect(drivers).toEqual(expect.arrayContaining(['xhci_pci', 'usb_storage', 'ata_piix', 'e1000', 'usbhid']));
    expect(modules).not.toEqual(expect.arrayContaining(['usb_storage']));
    expect(modules.filter((m) => drivers.includes(m))).toEqual([]);
    expect(drivers.indexOf('usb_storage')).toBeLessThan(drivers.indexOf('ata_piix'));
    // A network lower needs its NIC before the stick (the network layer is read after DHCP).
    expect(drivers.indexOf('e1000')).toBeLessThan(drivers.indexOf('usb_storage'));
    const all = (await resolveModules(MODULES_DIR, { groups: [...init.moduleGroups, ...o.extraModuleGroups] as never })).loadOrder;
    expect([...modules, ...drivers].sort()).toEqual([...all].sort());
  });
});
