/**
 * flashroot slot picks a slot by hand; update and slot refuse sticks they cannot work on, having
 * written nothing.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FatVolume } from '../../src/disk/fat.js';
import { PARTITION_START } from '../../src/disk/image.js';
import { SLOT_STATE_PATH } from '../../src/stick/paths.js';
import { run } from '../../src/util/run.js';
import { buildDemo, sha256 } from '../helpers/demo.js';
import { bootableSlots, flashroot } from '../helpers/slots.js';

let dir: string;
let v1: string;
let v2: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-slot-'));
  v1 = (await buildDemo({ boot: 'bios', release: 'v1', roomForUpdate: true })).image;
  v2 = (await buildDemo({ boot: 'bios', release: 'v2' })).image;
});

describe('flashroot slot', () => {
  it('makes a slot current and every default, ending a trial; an empty slot is refused', async () => {
    const stick = join(dir, 'stick.img');
    await copyFile(v1, stick);
    const empty = await flashroot(['slot', 'b', '--drive', stick]);
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('slot b of');
    expect(empty.stderr).toContain('is empty');
    const u = await flashroot(['update', v2, '--drive', stick]);
    expect(u.exitCode, u.stderr).toBe(0);
    expect(u.stderr).toMatch(/Updated .* slot b holds v2, on trial for the next 3 boots; slot a \(v1\) stays the fallback/);
    expect((await bootableSlots(stick)).slots.state).toEqual({ current: 'a', trial: 'b', tries: 3, of: 3 });
    const back = await flashroot(['slot', 'a', '--drive', stick]);
    expect(back.exitCode, back.stderr).toBe(0);
    const after = await bootableSlots(stick);
    expect(after.boots).toEqual({ syslinux: 'a' });
    expect(after.slots.state).toEqual({ current: 'a', tries: 0, of: 0 });
    const i = await flashroot(['inspect', stick]);
    expect(i.stdout).toMatch(/^ {2}b: fallback +v2 /m);
  });

  it('update of the same image twice writes only the commit the second time', async () => {
    const stick = join(dir, 'twice.img');
    await copyFile(v1, stick);
    expect((await flashroot(['update', v2, '--drive', stick])).exitCode).toBe(0);
    expect((await flashroot(['slot', 'a', '--drive', stick])).exitCode).toBe(0);
    const again = await flashroot(['update', v2, '--drive', stick, '--json']);
    expect(again.exitCode, again.stderr).toBe(0);
    const r = JSON.parse(again.stdout) as { written: unknown[]; sectorsWritten: number };
    expect(r.written).toEqual([]);
    expect(r.sectorsWritten).toBeLessThan(64);
  });

  it('never writes outside the FAT partition (where saved settings live, issue 15)', async () => {
    const stick = join(dir, 'tail.img');
    await copyFile(v1, stick);
    const tail = randomBytes(1 << 20);
    await appendFile(stick, tail);
    expect((await flashroot(['update', v2, '--drive', stick])).exitCode).toBe(0);
    const all = await readFile(stick);
    expect(all.subarray(all.length - tail.length).equals(tail)).toBe(true);
  });

  it('refuses the stick this box runs from, whatever the flags', async () => {
    const stick = join(dir, 'running.img');
    await copyFile(v1, stick);
    const { stdout } = await run('losetup', ['--find', '--show', '--partscan', stick]);
    const dev = stdout.trim();
    try {
      const state = join(dir, 'state');
      await writeFile(state, `lower=local\nmedium=${dev}p1\n`);
      const r = await flashroot(['update', v2, '--drive', dev, '--allow-virtual', `--yes-i-am-sure=${dev}`], { FLASHROOT_BOOT_STATE: state });
      expect(r.exitCode).toBe(6);
      expect(r.stderr).toContain(`Refusing to update ${dev}: this box is running from it`);
    } finally {
      await run('losetup', ['-d', dev]);
    }
  });

  it('a stick without slots is refused, untouched', async () => {
    const stick = join(dir, 'old.img');
    await copyFile(v1, stick);
    const fat = await FatVolume.open(stick, PARTITION_START, (await import('node:fs')).statSync(stick).size - PARTITION_START);
    fat.unlink(SLOT_STATE_PATH);
    fat.close();
    const before = await sha256(stick);
    const r = await flashroot(['update', v2, '--drive', stick]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('has no slots (/live/slots)');
    expect(await sha256(stick)).toBe(before);
  });
});
