import { describe, expect, it } from 'vitest';
import { confirmWrite } from '../../../src/drives/confirm.js';
import type { DriveFacts } from '../../../src/drives/facts.js';
import type { Verdict } from '../../../src/drives/policy.js';
import { confirmationText, drivesText, progressText } from '../../../src/drives/render.js';
import { SafetyError, UsageError } from '../../../src/errors.js';

const stick: DriveFacts = {
  path: '/dev/sdb',
  name: 'sdb',
  type: 'disk',
  model: 'SanDisk Ultra',
  serial: '4C530001230812345678',
  size: 30765219840,
  bus: 'usb',
  removable: true,
  hotplug: true,
  card: false,
  readOnly: false,
  virtual: false,
  system: false,
  mountpoints: [],
  swaps: [],
  memberships: [],
  contents: [{ path: '/dev/sdb1', type: 'part', fstype: 'vfat', label: 'STICK', size: 30764171264, mountpoints: [] }],
  logicalBlockSize: 512,
  physicalBlockSize: 512,
};
const clean: Verdict = { path: '/dev/sdb', writable: true, refusals: [], overridden: [] };
const overridden: Verdict = { ...clean, overridden: [{ rule: 'not-removable', reason: 'it is neither removable nor hot-pluggable', override: '--allow-non-removable' }] };
const answer = (text: string) => () => Promise.resolve(text);

describe('confirmWrite', () => {
  it('takes --yes for a drive that passed every rule, but not for an override', async () => {
    await expect(confirmWrite(stick, clean, { yes: true, interactive: false })).resolves.toBeUndefined();
    await expect(confirmWrite(stick, overridden, { yes: true, interactive: false })).rejects.toBeInstanceOf(UsageError);
  });

  it('takes --yes-i-am-sure only when it names the drive exactly', async () => {
    await expect(confirmWrite(stick, overridden, { yesIAmSure: '/dev/sdb', interactive: false })).resolves.toBeUndefined();
    await expect(confirmWrite(stick, overridden, { yesIAmSure: '/dev/sdc', interactive: false })).rejects.toBeInstanceOf(SafetyError);
    await expect(confirmWrite(stick, overridden, { yesIAmSure: '/dev/sdb ', interactive: false })).rejects.toBeInstanceOf(SafetyError);
  });

  it('asks to type the path for an override, y/N otherwise', async () => {
    await expect(confirmWrite(stick, overridden, { interactive: true, ask: answer('/dev/sdb') })).resolves.toBeUndefined();
    await expect(confirmWrite(stick, overridden, { interactive: true, ask: answer('y') })).rejects.toThrow(/not touched/);
    await expect(confirmWrite(stick, clean, { interactive: true, ask: answer('yes') })).resolves.toBeUndefined();
    await expect(confirmWrite(stick, clean, { interactive: true, ask: answer('') })).rejects.toBeInstanceOf(SafetyError);
  });

  it('without a terminal and without a flag, names the flag to add', async () => {
    await expect(confirmWrite(stick, overridden, { interactive: false })).rejects.toMatchObject({ hint: 'Add --yes-i-am-sure=/dev/sdb to confirm.' });
  });
});

describe('texts', () => {
  it('the confirmation shows model, size, serial and what is on the drive now', () => {
    const t = confirmationText(stick, overridden);
    for (const s of ['SanDisk Ultra', '28.7 GiB', '4C530001230812345678', '/dev/sdb1: vfat, "STICK"', '--allow-non-removable']) expect(t).toContain(s);
  });

  it('progress shows bytes, percent, rate and ETA', () => {
    expect(progressText({ phase: 'writing', bytes: 10 * 1024 ** 2, total: 40 * 1024 ** 2 }, 1000)).toBe('writing 10.0 MiB / 40.0 MiB  25%  10.0 MiB/s  ETA 3.0 s');
  });

  it('the drive list shows each refusal with the flag that lifts it', () => {
    const mounted = { ...stick, mountpoints: ['/media/alice/STICK'] };
    const v: Verdict = { ...clean, writable: false, refusals: [{ rule: 'mounted', reason: 'mounted at /media/alice/STICK', override: '--unmount' }] };
    expect(drivesText([mounted, stick], [v, clean])).toBe(
      [
        '/dev/sdb  28.7 GiB  usb  SanDisk Ultra  serial 4C530001230812345678  [removable,hotplug]',
        '    mounted: /media/alice/STICK',
        '    refused:',
        '      - mounted at /media/alice/STICK [--unmount]',
        '/dev/sdb  28.7 GiB  usb  SanDisk Ultra  serial 4C530001230812345678  [removable,hotplug]',
        '    writable',
      ].join('\n'),
    );
  });
});
