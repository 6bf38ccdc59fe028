import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { resolveModules } from '../../../src/initramfs/modules.js';
import { hardwareRequest, loadHardwareFile, readModaliases, recordHardware, saveHardware } from '../../../src/kernel/hardware.js';
import { makeModulesDir, removeModulesDirs } from './fixtures.js';

let dir: string;
let sys: string;
let modulesDir: string;

const DEVICES: Record<string, string> = {
  'pci/devices/0000:00:02.0': 'pci:v00008086d000015F3sv00008086sd00000000bc02sc00i00',
  'pci/devices/0000:00:03.0': 'pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30',
  // Two devices of one kind are one entry.
  'pci/devices/0000:00:04.0': 'pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30',
  'usb/devices/1-1': 'usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00',
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-hw-'));
  sys = join(dir, 'sys');
  for (const [dev, alias] of Object.entries(DEVICES)) {
    await mkdir(join(sys, 'bus', dev), { recursive: true });
    await writeFile(join(sys, 'bus', dev, 'modalias'), `${alias}\n`);
  }
  await mkdir(join(sys, 'bus/cpu/devices/cpu0'), { recursive: true }); // no modalias: skipped
  modulesDir = await makeModulesDir('6.1.0-hw', {
    dep: {
      'kernel/drivers/net/ethernet/intel/igc/igc.ko': [],
      'kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko': [],
      'kernel/drivers/net/usb/r8152.ko': [],
      'kernel/drivers/usb/host/xhci-pci.ko': ['kernel/drivers/usb/host/xhci-hcd.ko'],
      'kernel/drivers/usb/host/xhci-hcd.ko': [],
      'kernel/drivers/usb/storage/usb-storage.ko': [],
      'kernel/drivers/scsi/lpfc/lpfc.ko': [],
      'kernel/drivers/scsi/mpt3sas/mpt3sas.ko': [],
      'kernel/drivers/hid/hid-logitech-dj.ko': [],
      'kernel/sound/pci/hda/snd-hda-intel.ko': [],
    },
    alias: [
      'alias pci:v00008086d000015F3sv*sd*bc*sc*i* igc',
      'alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci',
      'alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage',
    ],
  });
});
afterAll(async () => {
  await removeModulesDirs();
  await rm(dir, { recursive: true, force: true });
});

describe('recording hardware', () => {
  it('reads every modalias under /sys/bus once, sorted', async () => {
    expect(await readModaliases(sys)).toEqual([...new Set(Object.values(DEVICES))].sort());
  });

  it('saves a versioned record that loads back', async () => {
    const file = join(dir, 'box.json');
    const record = await recordHardware(sys);
    await saveHardware(file, record);
    expect(await loadHardwareFile(file)).toEqual({ ...record, format: 'flashroot-hardware', version: 1 });
  });

  it.each([
    ['missing', undefined, /Cannot read hardware file/],
    ['not JSON', 'modaliases: pci:…', /is not JSON/],
    ['another format or version', JSON.stringify({ format: 'flashroot-hardware', version: 2, host: 'x', kernel: 'y', modaliases: [] }), /not a flashroot hardware file \(version 1\): version/],
  ])('refuses a file that is %s, with a hint to record one', async (_what, content, message) => {
    const file = join(dir, `bad-${_what.replaceAll(' ', '-')}.json`);
    if (content !== undefined) await writeFile(file, content);
    const err = await loadHardwareFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(message);
    expect((err as InputError).hint).toMatch(/flashroot hardware --save FILE/);
  });
});

describe('what each --hardware choice puts in the initramfs', () => {
  const names = async (choice: string, network: boolean) =>
    (await resolveModules(modulesDir, (await hardwareRequest(choice, network, sys)).modules)).loadOrder.sort();

  it("host: the drivers of this box's devices, through the kernel's modules.alias", async () => {
    expect(await names('host', false)).toEqual(['igc', 'usb_storage', 'xhci_hcd', 'xhci_pci']);
  });

  it('a recorded file: the drivers of the box it was recorded on', async () => {
    const file = join(dir, 'nic-only.json');
    await saveHardware(file, { format: 'flashroot-hardware', version: 1, host: 'htpc', kernel: '6.1.0-50-amd64', modaliases: ['pci:v00008086d000015F3sv00008086sd00000000bc02sc00i00'] });
    expect(await names(file, false)).toEqual(['igc']);
    expect((await hardwareRequest(file, false, sys)).describe).toBe(`${file}: the drivers of htpc's 1 devices`);
  });

  it('generic: every storage controller and keyboard, but no Fibre Channel HBA, sound card or NIC for a local lower', async () => {
    expect(await names('generic', false)).toEqual(['hid_logitech_dj', 'mpt3sas', 'usb_storage', 'xhci_hcd', 'xhci_pci']);
  });

  it('generic for a network lower: every wired and USB NIC too, a server adapter only on the stick', async () => {
    expect(await names('generic', true)).toEqual(['hid_logitech_dj', 'igc', 'mpt3sas', 'r8152', 'usb_storage', 'xhci_hcd', 'xhci_pci']);
    const withStick = (await hardwareRequest('generic', true, sys)).withStick;
    expect(withStick && (await resolveModules(modulesDir, withStick)).loadOrder.sort()).toEqual(['hid_logitech_dj', 'igc', 'mlx5_core', 'mpt3sas', 'r8152', 'usb_storage', 'xhci_hcd', 'xhci_pci']);
  });

  it('leaves nothing to the stick for a local lower, nor for the drivers of one box', async () => {
    expect((await hardwareRequest('generic', false, sys)).withStick).toBeUndefined();
    expect((await hardwareRequest('host', true, sys)).withStick).toBeUndefined();
  });
});
