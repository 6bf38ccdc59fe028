/**
 * A power cut at any moment of `flashroot update` leaves a stick that boots: the writer is killed
 * (SIGKILL, no clean-up) before its Nth write to the stick, for N all along the update and at every
 * write of the commit; each resulting stick is read back (the slot each loader boots is complete,
 * file by file against its sha256) and some are booted. Then the same update, run again, finishes.
 * Also: the refusals that write nothing (no room, not a slot stick, a loop device without consent).
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { DEMO_MARKER } from '../../src/root/demo-root.js';
import type { UpdateResult } from '../../src/update/update.js';
import { Reporter } from '../../src/util/log.js';
import { run } from '../../src/util/run.js';
import { buildDemo, sha256 } from '../helpers/demo.js';
import { bootableSlots, CLI, flashroot, releaseRoot } from '../helpers/slots.js';

let dir: string;
let v1: string;
let v2: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-update-faults-'));
  v1 = (await buildDemo({ release: 'v1', roomForUpdate: true })).image;
  await releaseRoot(join(dir, 'v2-root'), 'v2');
  v2 = (await build({ root: join(dir, 'v2-root'), out: join(dir, 'v2.img'), release: 'v2', menuTimeout: 0, confirmAfter: 2 }, new Reporter(true))).image;
});

async function fresh(name: string): Promise<string> {
  const stick = join(dir, name);
  await copyFile(v1, stick);
  return stick;
}

describe('flashroot update cut at any write', () => {
  it('leaves a stick whose every loader boots a complete slot, and a second run finishes the update', async () => {
    const whole = await fresh('whole.img');
    const ok = await flashroot(['update', v2, '--drive', whole, '--json']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    const total = (JSON.parse(ok.stdout) as UpdateResult).writeCalls;
    // Along the update, and each of the last writes (the manifest, the state, the default lines).
    const points = [...new Set([1, 2, 3, 5, Math.round(total / 4), Math.round(total / 2), Math.round((3 * total) / 4), ...Array.from({ length: 10 }, (_, i) => total - 9 + i)])].filter((n) => n >= 1 && n <= total).sort((a, b) => a - b);
    const outcomes: string[] = [];
    const toBoot: string[] = [];
    for (const n of points) {
      const stick = await fresh(`cut-${n}.img`);
      const r = await execa(process.execPath, [CLI, 'update', v2, '--drive', stick, '--json'], { reject: false, env: { FLASHROOT_FAULT_AFTER_WRITES: String(n) } });
      expect(r.signal, `${n}: ${r.stderr}`).toBe('SIGKILL');
      const { boots, slots } = await bootableSlots(stick);
      outcomes.push(`${n}/${total}: ${JSON.stringify(boots)} state ${JSON.stringify(slots.state)}`);
      for (const b of Object.values(boots)) expect(['a', 'b'], `cut before write ${n}: ${JSON.stringify(boots)}`).toContain(b);
      const kept = n === points[2] || n === total - 3 || n === total;
      if (kept) toBoot.push(stick);
      // The update run again on the cut stick finishes it.
      if (n % 2 === 1 || n > total - 10) {
        const again = await flashroot(['update', v2, '--drive', stick, '--json']);
        expect(again.exitCode, again.stderr).toBe(0);
        expect((await bootableSlots(stick)).boots).toEqual({ syslinux: 'b', grub: 'b' });
      }
      // Each cut is a whole stick: all of them kept were 6 GB of a run's peak disk use.
      if (!kept) await rm(stick);
    }
    process.stdout.write(`update fault points (${points.length} of ${total} writes):\n  ${outcomes.join('\n  ')}\n`);
    // A cut stick boots (BIOS, syslinux's default).
    for (const stick of toBoot.slice(0, 2)) {
      const r = await bootImage({ image: stick, writable: true, expect: DEMO_MARKER, failOn: ['Kernel panic', 'flashroot: FAIL'], timeoutSec: 300, graceMs: 500 });
      expect(r.matched, r.console.join('\n')).toBe(true);
    }
  });
});

describe('flashroot update refuses before writing anything', () => {
  it('when the stick has no room for the new system beside the current one, saying how much it needs', async () => {
    const small = (await buildDemo({ release: 'small', boot: 'bios' })).image;
    // A root 40 MB bigger than the room the default size leaves.
    await releaseRoot(join(dir, 'big-root'), 'big');
    await writeFile(join(dir, 'big-root/root/noise'), randomBytes(40 * 2 ** 20));
    const big = (await build({ root: join(dir, 'big-root'), out: join(dir, 'big.img'), boot: 'bios', menuTimeout: 0 }, new Reporter(true))).image;
    const before = await sha256(small);
    const r = await flashroot(['update', big, '--drive', small]);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/has no room for the new system beside the current one: it needs [\d.]+ MiB in slot b, the FAT has [\d.]+ MiB free .*nothing was written/);
    expect(r.stderr).toContain('--room-for-update');
    expect(await sha256(small)).toBe(before);
  });

  it('a loop device without --allow-virtual, under the same rules as flashroot write', async () => {
    const stick = await fresh('loop.img');
    const before = await sha256(stick);
    const { stdout: dev } = await run('losetup', ['--find', '--show', stick]);
    try {
      const r = await flashroot(['update', v2, '--drive', dev.trim(), '--yes']);
      expect(r.exitCode).toBe(6);
      expect(r.stderr).toContain(`Refusing to update ${dev.trim()}; nothing was written`);
      const ok = await flashroot(['update', v2, '--drive', dev.trim(), '--allow-virtual', `--yes-i-am-sure=${dev.trim()}`, '--json']);
      expect(ok.exitCode, ok.stderr).toBe(0);
    } finally {
      await run('losetup', ['-d', dev.trim()]);
    }
    expect(await sha256(stick)).not.toBe(before);
    expect((await bootableSlots(stick)).boots).toEqual({ syslinux: 'b', grub: 'b' });
  });
});
