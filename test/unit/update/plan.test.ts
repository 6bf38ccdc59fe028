import { describe, expect, it } from 'vitest';
import { planUpdate, type NewFile } from '../../../src/update/plan.js';
import type { SlotManifest } from '../../../src/stick/slots.js';

const CLUSTER = 4096;
const h = (c: string) => c.repeat(64);
const manifest = (slot: 'a' | 'b', files: SlotManifest['files']): SlotManifest => ({ flashroot: 1, slot, buildId: slot, release: slot, kernel: '6.1', cmdline: '', files });
const slotA = manifest('a', [
  { path: '/live/root-1111111111111111.sqfs', role: 'root', bytes: 50_000_000, sha256: h('1') },
  { path: '/live/modules-2222222222222222.sqfs', role: 'modules', bytes: 100_000_000, sha256: h('2') },
  { path: '/boot/vmlinuz-a', role: 'kernel', bytes: 8_000_000, sha256: h('3') },
  { path: '/boot/initrd-a.img', role: 'initrd', bytes: 7_000_000, sha256: h('4') },
]);
const onStick = (m: SlotManifest[]) => [...m.flatMap((x) => x.files.map((f) => ({ path: f.path, size: f.bytes }))), ...m.map((x) => ({ path: `/live/slot-${x.slot}.json`, size: 900 })), { path: '/live/slots', size: 512 }, { path: '/syslinux/syslinux.cfg', size: 1200 }];
const v2: NewFile[] = [
  { path: '/live/root-5555555555555555.sqfs', role: 'root', bytes: 51_000_000, sha256: h('5') },
  { path: '/live/modules-2222222222222222.sqfs', role: 'modules', bytes: 100_000_000, sha256: h('2') },
  { path: '/boot/vmlinuz-a', role: 'kernel', bytes: 8_000_000, sha256: h('3') },
  { path: '/boot/initrd-a.img', role: 'initrd', bytes: 7_100_000, sha256: h('6') },
];

describe('the plan of an update', () => {
  it("fills the empty slot b: the new root, the slot's kernel and initramfs; the shared modules layer is not written again", () => {
    const p = planUpdate({ state: { current: 'a', tries: 0, of: 0 }, manifests: { a: slotA }, stickFiles: onStick([slotA]), newFiles: v2, cluster: CLUSTER });
    expect(p.target).toBe('b');
    expect(p.write.map((f) => f.path)).toEqual(['/live/root-5555555555555555.sqfs', '/boot/vmlinuz-b', '/boot/initrd-b.img']);
    expect(p.files.map((f) => f.path)).toContain('/live/modules-2222222222222222.sqfs');
    expect(p.remove).toEqual([]);
    expect(p.needBytes).toBeGreaterThanOrEqual(51_000_000 + 8_000_000 + 7_100_000);
  });

  it("replaces the fallback's files it does not reuse, keeps what is unchanged, and never touches the current slot's", () => {
    // b is current now (v2), a holds v1; v3 changes only the root and the initramfs.
    const slotB = manifest('b', [
      { path: '/live/root-5555555555555555.sqfs', role: 'root', bytes: 51_000_000, sha256: h('5') },
      { path: '/live/modules-2222222222222222.sqfs', role: 'modules', bytes: 100_000_000, sha256: h('2') },
      { path: '/boot/vmlinuz-b', role: 'kernel', bytes: 8_000_000, sha256: h('3') },
      { path: '/boot/initrd-b.img', role: 'initrd', bytes: 7_100_000, sha256: h('6') },
    ]);
    const v3: NewFile[] = [{ ...v2[0]!, path: '/live/root-7777777777777777.sqfs', sha256: h('7') }, v2[1]!, v2[2]!, { ...v2[3]!, sha256: h('8') }];
    const stray = { path: '/live/root-9999999999999999.sqfs', size: 10 };
    const p = planUpdate({ state: { current: 'b', tries: 0, of: 0 }, manifests: { a: slotA, b: slotB }, stickFiles: [...onStick([slotA, slotB]), stray], newFiles: v3, cluster: CLUSTER });
    expect(p.target).toBe('a');
    expect(p.write.map((f) => f.path)).toEqual(['/live/root-7777777777777777.sqfs', '/boot/initrd-a.img']);
    expect(p.remove.map((f) => f.path).sort()).toEqual(['/boot/initrd-a.img', '/live/root-1111111111111111.sqfs', '/live/root-9999999999999999.sqfs', '/live/slot-a.json']);
    for (const f of slotB.files) expect(p.remove.map((r) => r.path)).not.toContain(f.path);
    expect(p.freedBytes).toBeGreaterThanOrEqual(50_000_000 + 7_000_000);
  });

  it('writes nothing but the commit when the stick already holds the same system in the other slot', () => {
    const slotB = manifest('b', v2.map((f) => ({ ...f, path: f.role === 'kernel' ? '/boot/vmlinuz-b' : f.role === 'initrd' ? '/boot/initrd-b.img' : f.path })));
    const p = planUpdate({ state: { current: 'a', trial: 'b', tries: 2, of: 3 }, manifests: { a: slotA, b: slotB }, stickFiles: onStick([slotA, slotB]), newFiles: v2, cluster: CLUSTER });
    expect(p.write).toEqual([]);
    expect(p.remove.map((f) => f.path)).toEqual(['/live/slot-b.json']);
  });
});
