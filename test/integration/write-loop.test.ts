/**
 * `flashroot write` on real block devices (loop devices over files): a sparse, verified write that
 * leaves a correct filesystem over old data, and refusals that write not a single byte.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/run.js';
import { makeFatImage, PARTITION_OFFSET, type TestImage } from '../fixtures/drives/make-image.js';
import { attachLoop, detachLoop, makeUsedStick, readRange, sha256OfFile } from '../fixtures/drives/loop.js';

const MiB = 1024 * 1024;
const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

async function flashroot(args: string[]) {
  return run('node', ['bin/flashroot.js', ...args], { okExitCodes: ANY_EXIT, timeoutMs: 120_000 });
}

let dir: string;
let image: TestImage;
const loops: string[] = [];
const mounts: string[] = [];

async function stick(name: string, bytes: number): Promise<{ file: string; dev: string }> {
  const file = join(dir, name);
  await makeUsedStick(file, bytes);
  const dev = await attachLoop(file);
  loops.push(dev);
  return { file, dev };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-write-'));
  image = await makeFatImage(dir, 'image.img', 96, [24 * MiB, 3 * MiB, 100_000]);
});

afterAll(async () => {
  for (const m of mounts.reverse()) await run('umount', [m], { okExitCodes: [32] });
  for (const l of loops) await detachLoop(l);
  await rm(dir, { recursive: true, force: true });
});

describe('flashroot write to a loop device', () => {
  it('writes only the used regions, first block last, verifies, and leaves a filesystem that reads back', async () => {
    const { file, dev } = await stick('stick.bin', 160 * MiB);
    const r = await flashroot(['write', image.path, '--drive', dev, '--allow-virtual', `--yes-i-am-sure=${dev}`, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { bytesWritten: number; imageSize: number; writeBytesPerSecond: number; verifiedBytes: number; writeMs: number };
    expect(out.imageSize).toBe(96 * MiB);
    // Sparse: ~28 MiB of files + FATs + the first MiB, not 96 MiB.
    expect(out.bytesWritten).toBeLessThan(34 * MiB);
    expect(out.bytesWritten).toBeGreaterThan(27 * MiB);
    expect(out.verifiedBytes).toBe(out.bytesWritten);
    console.log(
      `[write-loop] image ${out.imageSize} B, written ${out.bytesWritten} B (${((100 * out.bytesWritten) / out.imageSize).toFixed(1)} %), ` +
        `${(out.writeBytesPerSecond / MiB).toFixed(1)} MiB/s, write ${out.writeMs} ms`,
    );
    // The MBR is the image's; the FAT, over 160 MiB of old random data, is clean and holds the files.
    expect((await readRange(file, 0, 512)).equals(await readRange(image.path, 0, 512))).toBe(true);
    const part = join(dir, 'part.bin');
    await writeFile(part, (await readFile(file)).subarray(PARTITION_OFFSET, image.size));
    await run('fsck.fat', ['-n', part]);
    for (const [name, data] of image.files) {
      const back = join(dir, `back-${name}`);
      await run('mcopy', ['-i', `${file}@@${PARTITION_OFFSET}`, `::/${name}`, back]);
      expect((await readFile(back)).equals(data), name).toBe(true);
    }
    // inspect reads the device itself: its size from the kernel, since stat() gives 0 for a block device.
    const insp = await flashroot(['inspect', dev, '--json']);
    expect(insp.exitCode, insp.stderr).toBe(0);
    expect((JSON.parse(insp.stdout) as { bytes: number }).bytes).toBe(160 * MiB);
  });

  it('takes the time of the data, not of the size: a 1 GiB image with 8 MiB of files', async () => {
    const big = await makeFatImage(dir, 'big.img', 1024, [8 * MiB]);
    const file = join(dir, 'big-stick.bin');
    await writeFile(file, '');
    await truncate(file, 1100 * MiB);
    const dev = await attachLoop(file);
    loops.push(dev);
    const r = await flashroot(['write', big.path, '--drive', dev, '--allow-virtual', `--yes-i-am-sure=${dev}`, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { bytesWritten: number; imageSize: number; writeMs: number; verifyMs: number };
    // The first MiB, two 8 MiB FATs (512-byte clusters) and the files.
    expect(out.bytesWritten).toBeLessThan(30 * MiB);
    console.log(`[write-loop] 1 GiB image: written ${out.bytesWritten} B (${((100 * out.bytesWritten) / out.imageSize).toFixed(1)} %) in ${out.writeMs} ms, verified in ${out.verifyMs} ms`);
  });

  it('Ctrl-C during the write stops cleanly, says so, exits 130 and leaves no partition table', async () => {
    // A dense image with no partition table: every byte is written, so the write lasts long enough to interrupt.
    const dense = join(dir, 'dense.img');
    await makeUsedStick(dense, 768 * MiB);
    const { file, dev } = await stick('interrupted.bin', 800 * MiB);
    const child = spawn('node', ['bin/flashroot.js', 'write', dense, '--drive', dev, '--allow-virtual', `--yes-i-am-sure=${dev}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let interrupted = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // Once: a second Ctrl-C is the user's way to kill it outright.
      if (!interrupted && stderr.includes('==> Writing')) interrupted = child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/Interrupted: Stopped after \d+ bytes\. The stick was left without a partition table/);
    expect((await readRange(file, 0, 4096)).every((b) => b === 0)).toBe(true);
  });

  it('refuses a loop device without --allow-virtual, writing nothing', async () => {
    const { file, dev } = await stick('plain.bin', 128 * MiB);
    const before = await sha256OfFile(file);
    const r = await flashroot(['write', image.path, '--drive', dev, `--yes-i-am-sure=${dev}`]);
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toMatch(/virtual device[\s\S]*--allow-virtual/);
    expect(await sha256OfFile(file)).toBe(before);
  });

  it('refuses a device smaller than the image, even with every override, writing nothing', async () => {
    const { file, dev } = await stick('small.bin', 32 * MiB);
    const before = await sha256OfFile(file);
    const r = await flashroot(['write', image.path, '--drive', dev, '--allow-virtual', '--allow-non-removable', '--unmount', `--yes-i-am-sure=${dev}`]);
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toMatch(/smaller \(32\.0 MiB\) than the image \(96\.0 MiB\)/);
    expect(await sha256OfFile(file)).toBe(before);
  });

  it('refuses a mounted loop device unless --unmount, which unmounts it first', async () => {
    const file = join(dir, 'mounted.bin');
    await makeUsedStick(file, 128 * MiB);
    await run('mkfs.ext4', ['-q', '-F', '-L', 'OLDSTICK', file]);
    const dev = await attachLoop(file);
    loops.push(dev);
    const mnt = join(dir, 'mnt');
    await run('mkdir', ['-p', mnt]);
    await run('mount', [dev, mnt]);
    mounts.push(mnt);
    const before = await sha256OfFile(file);
    const refused = await flashroot(['write', image.path, '--drive', dev, '--allow-virtual', `--yes-i-am-sure=${dev}`]);
    expect(refused.exitCode).toBe(6);
    expect(refused.stderr).toContain(`mounted at ${mnt} [--unmount]`);
    expect(await sha256OfFile(file)).toBe(before);

    const ok = await flashroot(['write', image.path, '--drive', dev, '--allow-virtual', '--unmount', `--yes-i-am-sure=${dev}`, '--json']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect((await readFile('/proc/mounts', 'utf8')).includes(` ${mnt} `)).toBe(false);
  });

  it('refuses the disk holding /, with every override given, without ever opening it', async () => {
    const root = (await run('findmnt', ['--noheadings', '--output', 'SOURCE', '/'])).stdout.trim();
    const disk = `/dev/${(await run('lsblk', ['--noheadings', '--nodeps', '--output', 'PKNAME', root])).stdout.trim() || root.replace('/dev/', '')}`;
    // The writer's first act would be zeroing bytes 0-4095, so sector 0-1 would change (bytes from
    // 1024 on may be a live superblock). Sandboxes may forbid reading the disk: then strace alone proves it.
    const head = async () => readRange(disk, 0, 1024).catch(() => undefined);
    const before = await head();
    const trace = join(dir, 'vda.strace');
    const args = ['write', image.path, '--drive', disk, '--allow-virtual', '--allow-non-removable', '--unmount', '--max-size', '100T', `--yes-i-am-sure=${disk}`];
    const r = await run('strace', ['-f', '-qq', '-e', 'trace=open,openat', '-o', trace, 'node', 'bin/flashroot.js', ...args], { okExitCodes: ANY_EXIT });
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toMatch(/Refusing to write .*; nothing was written[\s\S]*holds the running system \(\/\)/);
    expect((await readFile(trace, 'utf8')).includes(`"${disk}"`), 'the disk was opened').toBe(false);
    expect(await head()).toEqual(before);
  });

  it('opens the target exclusively with direct I/O (the control for the strace check above)', async () => {
    const { dev } = await stick('traced.bin', 128 * MiB);
    const trace = join(dir, 'loop.strace');
    const args = ['write', image.path, '--drive', dev, '--allow-virtual', `--yes-i-am-sure=${dev}`, '--json'];
    const r = await run('strace', ['-f', '-qq', '-e', 'trace=open,openat', '-o', trace, 'node', 'bin/flashroot.js', ...args], { okExitCodes: ANY_EXIT });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readFile(trace, 'utf8')).toMatch(new RegExp(`"${dev}", O_RDWR\\|O_EXCL\\|O_DIRECT`));
  });

  it('lists drives with verdicts as JSON', async () => {
    const r = await flashroot(['drives', '--json', '--image', image.path]);
    expect(r.exitCode, r.stderr).toBe(0);
    const drives = JSON.parse(r.stdout) as { path: string; verdict: { writable: boolean; refusals: { rule: string }[] } }[];
    const root = drives.find((d) => d.verdict.refusals.some((x) => x.rule === 'backs-system'));
    expect(root?.verdict.writable).toBe(false);
    expect(drives.some((d) => loops.includes(d.path))).toBe(true);
  });
});
