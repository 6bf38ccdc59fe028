import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDrives, type DriveFacts, type DriveSnapshot } from '../../../src/drives/facts.js';
import { DEFAULT_MAX_SIZE, judge, sameDrive, type PolicyOptions, type RuleId } from '../../../src/drives/policy.js';

const GiB = 1024 ** 3;
const FIXTURES = join(import.meta.dirname, '../../fixtures/drives');

function machine(name: string): DriveFacts[] {
  return describeDrives(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as DriveSnapshot);
}

function drive(machineName: string, path: string): DriveFacts {
  const d = machine(machineName).find((x) => x.path === path);
  if (!d) throw new Error(`${path} not in ${machineName}`);
  return d;
}

const IMAGE = { imageSize: 1 * GiB, maxSize: DEFAULT_MAX_SIZE };
const SMALL = { imageSize: 64 * 1024 ** 2, maxSize: DEFAULT_MAX_SIZE };

// machine, device, options, the rules that refuse (each once, sorted); writable when there are none.
const table: [string, string, PolicyOptions, RuleId[]][] = [
  // A laptop: NVMe system disk, a mounted USB stick, a USB SD reader with a card and an empty slot, a built-in card reader.
  ['laptop-nvme-usb-sdreader', '/dev/nvme0n1', IMAGE, ['active-swap', 'backs-system', 'not-removable', 'system-disk', 'too-large']],
  ['laptop-nvme-usb-sdreader', '/dev/sda', IMAGE, ['mounted']],
  ['laptop-nvme-usb-sdreader', '/dev/sda', { ...IMAGE, unmount: true }, []],
  ['laptop-nvme-usb-sdreader', '/dev/sdb', IMAGE, []],
  ['laptop-nvme-usb-sdreader', '/dev/sdb', { ...IMAGE, imageSize: 20 * GiB }, ['too-small']],
  ['laptop-nvme-usb-sdreader', '/dev/sdc', IMAGE, ['no-medium']],
  ['laptop-nvme-usb-sdreader', '/dev/mmcblk0', IMAGE, []],
  // A server: root on LVM on a SATA disk, a disk with active swap, an md RAID1 pair, ZFS, a big USB disk, a locked stick.
  ['server-sata-swap-md-lvm-zfs', '/dev/sda', IMAGE, ['array-member', 'backs-system', 'not-removable', 'system-disk', 'too-large']],
  ['server-sata-swap-md-lvm-zfs', '/dev/sdb', IMAGE, ['active-swap', 'mounted', 'not-removable', 'system-disk', 'too-large']],
  ['server-sata-swap-md-lvm-zfs', '/dev/sdc', IMAGE, ['array-member', 'mounted', 'not-removable', 'system-disk', 'too-large']],
  ['server-sata-swap-md-lvm-zfs', '/dev/sdd', { ...IMAGE, unmount: true, allowNonRemovable: true, maxSize: 8000 * GiB }, ['array-member']],
  ['server-sata-swap-md-lvm-zfs', '/dev/sde', IMAGE, ['too-large']],
  ['server-sata-swap-md-lvm-zfs', '/dev/sde', { ...IMAGE, maxSize: 1000 * GiB }, []],
  ['server-sata-swap-md-lvm-zfs', '/dev/sdf', { ...IMAGE, allowNonRemovable: true, maxSize: 8000 * GiB }, ['array-member']],
  ['server-sata-swap-md-lvm-zfs', '/dev/sdb', { ...IMAGE, allowNonRemovable: true, unmount: true, maxSize: 8000 * GiB }, ['active-swap']],
  ['server-sata-swap-md-lvm-zfs', '/dev/sdg', IMAGE, ['read-only']],
  // This VM (recorded): the virtio disk holding /, an empty zram, a free loop device and a mounted one.
  ['vm-virtio-zram-loop', '/dev/vda', IMAGE, ['backs-system', 'not-removable', 'system-disk', 'too-large']],
  ['vm-virtio-zram-loop', '/dev/vda', { ...IMAGE, allowNonRemovable: true, allowVirtual: true, unmount: true, maxSize: 1024 * GiB }, ['backs-system']],
  ['vm-virtio-zram-loop', '/dev/zram0', IMAGE, ['no-medium', 'virtual']],
  ['vm-virtio-zram-loop', '/dev/loop0', SMALL, ['virtual']],
  ['vm-virtio-zram-loop', '/dev/loop0', { ...SMALL, allowVirtual: true }, []],
  ['vm-virtio-zram-loop', '/dev/loop0', { ...IMAGE, imageSize: 512 * 1024 ** 2 }, ['too-small', 'virtual']],
  ['vm-virtio-zram-loop', '/dev/loop1', { ...IMAGE, imageSize: 16 * 1024 ** 2, allowVirtual: true }, ['mounted']],
];

describe('safety policy over recorded machines', () => {
  it.each(table)('%s %s %o refuses for %j', (m, path, opts, rules) => {
    const v = judge(drive(m, path), opts);
    expect([...new Set(v.refusals.map((r) => r.rule))].sort()).toEqual(rules);
    expect(v.writable).toBe(rules.length === 0);
  });

  it('every refusal carries a reason a person can read', () => {
    for (const m of ['laptop-nvme-usb-sdreader', 'server-sata-swap-md-lvm-zfs', 'vm-virtio-zram-loop']) {
      for (const d of machine(m)) for (const r of judge(d, IMAGE).refusals) expect(r.reason.length).toBeGreaterThan(10);
    }
  });

  it('an override moves its refusal to "overridden", which then needs the typed device path', () => {
    const v = judge(drive('vm-virtio-zram-loop', '/dev/loop0'), { ...SMALL, allowVirtual: true });
    expect(v.overridden.map((r) => r.rule)).toEqual(['virtual']);
    expect(judge(drive('laptop-nvme-usb-sdreader', '/dev/sdb'), IMAGE).overridden).toEqual([]);
  });

  it('overrides are narrow: --allow-virtual does not lift "mounted", --unmount does not lift "virtual"', () => {
    const loop1 = drive('vm-virtio-zram-loop', '/dev/loop1');
    expect(judge(loop1, { ...IMAGE, imageSize: 1, allowVirtual: true }).refusals.map((r) => r.rule)).toEqual(['mounted']);
    expect(judge(loop1, { ...IMAGE, imageSize: 1, unmount: true }).refusals.map((r) => r.rule)).toEqual(['virtual']);
  });

  it('names what makes a drive an array member', () => {
    expect(drive('server-sata-swap-md-lvm-zfs', '/dev/sdc').memberships.join('\n')).toMatch(/md RAID member[\s\S]*md0/);
    expect(drive('server-sata-swap-md-lvm-zfs', '/dev/sda').memberships.join('\n')).toMatch(/LVM physical volume/);
    expect(drive('server-sata-swap-md-lvm-zfs', '/dev/sdf').memberships.join('\n')).toMatch(/ZFS/);
  });

  it('sees the root through LVM, and swap only when active', () => {
    expect(drive('server-sata-swap-md-lvm-zfs', '/dev/sda').mountpoints).toContain('/');
    expect(drive('server-sata-swap-md-lvm-zfs', '/dev/sdb').swaps).toEqual(['/dev/sdb1']);
    expect(drive('laptop-nvme-usb-sdreader', '/dev/nvme0n1').swaps).toEqual(['/dev/nvme0n1p3']);
  });

  it('lists loop devices, which drivelist leaves out, as virtual', () => {
    const vm = machine('vm-virtio-zram-loop');
    expect(vm.map((d) => d.path).sort()).toEqual(['/dev/loop0', '/dev/loop1', '/dev/vda', '/dev/zram0']);
    expect(vm.filter((d) => d.virtual).map((d) => d.path).sort()).toEqual(['/dev/loop0', '/dev/loop1', '/dev/zram0']);
  });
});

describe('sameDrive (checked again after the confirmation)', () => {
  const sdb = drive('laptop-nvme-usb-sdreader', '/dev/sdb');
  const ok = judge(sdb, IMAGE);

  it('accepts the same stick, and a stick that lost an overridden refusal (unmounted)', () => {
    expect(sameDrive(sdb, ok, { ...sdb }, ok)).toBe(true);
    const sda = drive('laptop-nvme-usb-sdreader', '/dev/sda');
    const confirmed = judge(sda, { ...IMAGE, unmount: true });
    const unmounted = { ...sda, mountpoints: [] };
    expect(sameDrive(sda, confirmed, unmounted, judge(unmounted, IMAGE))).toBe(true);
  });

  it('rejects another stick under the same name, or one that now needs an override the user did not see', () => {
    expect(sameDrive(sdb, ok, { ...sdb, serial: 'OTHER' }, ok)).toBe(false);
    expect(sameDrive(sdb, ok, { ...sdb, size: 8 * GiB }, ok)).toBe(false);
    const internal = { ...sdb, removable: false, hotplug: false };
    expect(sameDrive(sdb, ok, internal, judge(internal, { ...IMAGE, allowNonRemovable: true }))).toBe(false);
  });
});
