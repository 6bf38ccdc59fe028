/**
 * Issue 16 end to end: a stick built with v1 is updated in place to v2, which boots on trial and
 * confirms itself; then to a v3 that never comes up, and the box goes back to v2 by itself and says
 * why. The image file stands in for the stick, QEMU (writable) for the box.
 */
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootImage, type BootResult } from '../../src/qemu/boot.js';
import { DEMO_MARKER } from '../../src/root/demo-root.js';
import type { UpdateResult } from '../../src/update/update.js';
import { buildDemo, sha256 } from '../helpers/demo.js';
import { bootableSlots, brokenRoot, flashroot, releaseRoot } from '../helpers/slots.js';

const text = (r: BootResult) => r.console.join('\n');
const boot = (image: string, expect: string, uefi = false) => bootImage({ image, uefi, writable: true, expect, failOn: ['Kernel panic', 'flashroot: FAIL'], timeoutSec: 300, graceMs: 1000 });

describe('flashroot update: v1 -> v2 (confirmed) -> v3 (broken, falls back)', () => {
  let dir: string;
  let stick: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flashroot-update-e2e-'));
    const v1 = await buildDemo({ release: 'v1', roomForUpdate: true, confirmAfter: 2 });
    stick = join(dir, 'stick.img');
    await copyFile(v1.image, stick);
    await releaseRoot(join(dir, 'v2'), 'v2');
    await brokenRoot(join(dir, 'v3'), 'v3');
  });

  it('v1 boots from slot a', async () => {
    const r = await boot(stick, DEMO_MARKER);
    expect(r.matched, text(r)).toBe(true);
    expect(text(r)).toContain('flashroot: slot a (v1)');
  });

  it('update to v2 writes only what changed; the next boot runs v2 on trial, which confirms itself; v1 is the fallback', async () => {
    const u = await flashroot(['update', '--drive', stick, '--root', join(dir, 'v2'), '--release', 'v2', '--confirm-after', '2', '--tries', '2', '--json']);
    expect(u.exitCode, u.stderr).toBe(0);
    const r1 = JSON.parse(u.stdout) as UpdateResult;
    expect(r1.target).toBe('b');
    expect(r1.written.map((f) => f.path)).toEqual([expect.stringMatching(/^\/live\/root-[0-9a-f]{16}\.sqfs$/), '/boot/vmlinuz-b', '/boot/initrd-b.img']);
    // The modules layer (99 MB) is the same: not written again.
    expect(r1.sectorsWritten * 512).toBeLessThan(r1.fullWriteBytes / 3);
    process.stdout.write(`update v1->v2: ${r1.sectorsWritten * 512} bytes written, a full write ${r1.fullWriteBytes}\n`);
    expect((await bootableSlots(stick)).boots).toEqual({ syslinux: 'b', grub: 'b' });

    const r = await boot(stick, 'release v2 state:');
    const t = text(r);
    expect(r.matched, t).toBe(true);
    expect(t).toContain('flashroot: slot b (v2) on trial: boot 1 of 2; unless it confirms it came up, slot a (v1) boots again');
    expect(t).toContain('release v2 running');
    expect(t).toContain('flashroot-confirm: slot b came up and is the current slot now; slot a is the fallback');
    expect(t).toContain('release v2 state: flashroot-slots 1 current=b trial=- tries=0 of=0');

    const i = await flashroot(['inspect', stick]);
    expect(i.stdout).toMatch(/^ {2}a: fallback +v1 \(build/m);
    expect(i.stdout).toMatch(/^ {2}b: current +v2 \(build/m);
    expect(i.stdout).toContain('boots by default: syslinux b, grub b');
  });

  it('once nothing is on trial, ordinary boots write nothing (BIOS and UEFI)', async () => {
    const before = await sha256(stick);
    for (const uefi of [false, true]) {
      const r = await boot(stick, 'release v2 state:', uefi);
      expect(r.matched, text(r)).toBe(true);
      expect(text(r)).toContain('flashroot: slot b (v2)');
      expect(await sha256(stick)).toBe(before);
    }
  });

  it('a v3 that never comes up: after its one try the box goes back to v2 by itself and says why on every boot', async () => {
    const u = await flashroot(['update', '--drive', stick, '--root', join(dir, 'v3'), '--release', 'v3', '--tries', '1', '--json']);
    expect(u.exitCode, u.stderr).toBe(0);
    expect((JSON.parse(u.stdout) as UpdateResult).target).toBe('a');
    // Try 1: v3 runs and dies (it reboots; QEMU stops at a reboot, the next run is the next power-on).
    const b1 = await boot(stick, 'release v3 is broken');
    expect(text(b1)).toContain('flashroot: slot a (v3) on trial: boot 1 of 1; unless it confirms it came up, slot b (v2) boots again');
    expect(b1.matched, text(b1)).toBe(true);
    // The next power-on: no tries left, back to slot b.
    const b2 = await boot(stick, 'flashroot: rebooting into slot b');
    expect(b2.matched, text(b2)).toBe(true);
    expect(text(b2)).toContain('flashroot: slot a (v3) did not come up after 1 tries: going back to slot b (v2)');
    expect((await bootableSlots(stick)).boots).toEqual({ syslinux: 'b', grub: 'b' });
    // And from then on v2, saying why, without writing.
    const before = await sha256(stick);
    const b3 = await boot(stick, 'release v2 state:');
    expect(b3.matched, text(b3)).toBe(true);
    expect(text(b3)).toContain('flashroot: slot a (v3) did not come up after 1 tries; running slot b (v2)');
    expect(text(b3)).toContain('release v2 running');
    expect(await sha256(stick)).toBe(before);
    const i = await flashroot(['inspect', stick]);
    expect(i.stdout).toMatch(/^ {2}a: failed trial +v3 .*, 0 of 1 tries left$/m);
    expect(i.stdout).toMatch(/^ {2}b: current +v2 /m);
  });
});
