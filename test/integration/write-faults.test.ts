/**
 * Faults while writing a real block device: the target fails or vanishes mid-write, the user stops
 * it, the read-back differs, the user may not open the device. Each ends with a clear error, a
 * non-zero exit and a stick that does not look bootable.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDrives, findDrive } from '../../src/drives/detect.js';
import { DeviceVanishedError, VerifyMismatchError, WriteAbortedError } from '../../src/drives/errors.js';
import { flashImage, verifyDrive } from '../../src/drives/flash.js';
import { mapImage, type ImageMap } from '../../src/drives/image-map.js';
import { run } from '../../src/util/run.js';
import { makeFatImage, type TestImage } from '../fixtures/drives/make-image.js';
import { attachLoop, detachLoop, makeUsedStick, readRange } from '../fixtures/drives/loop.js';

const MiB = 1024 * 1024;
const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

let dir: string;
let image: TestImage;
let map: ImageMap;
const loops: string[] = [];
const mounts: string[] = [];

async function stick(file: string, bytes: number): Promise<string> {
  await makeUsedStick(file, bytes);
  // Old content that would boot: the image's own MBR, as if the stick held an earlier flashroot.
  const fh = await open(file, 'r+');
  await fh.write(await readRange(image.path, 0, 512), 0, 512, 0);
  await fh.close();
  const dev = await attachLoop(file);
  loops.push(dev);
  return dev;
}

async function facts(dev: string) {
  return findDrive(await detectDrives(), dev);
}

async function expectNotBootable(file: string): Promise<void> {
  expect((await readRange(file, 0, 4096)).every((b) => b === 0), 'first block zeroed').toBe(true);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-faults-'));
  image = await makeFatImage(dir, 'image.img', 64, [20 * MiB, 2 * MiB]);
  map = await mapImage(image.path);
});

afterAll(async () => {
  for (const l of loops) await detachLoop(l);
  for (const m of mounts) await run('umount', [m]);
  await rm(dir, { recursive: true, force: true });
});

describe('write faults on a loop device', () => {
  it('a target that fails mid-write (backing store full) gives a clear error, exit 7, no partition table', async () => {
    const tmpfs = join(dir, 'small-tmpfs');
    await mkdir(tmpfs);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', tmpfs]);
    mounts.push(tmpfs);
    const file = join(tmpfs, 'stick.bin');
    const fh = await open(file, 'w');
    await fh.write(await readRange(image.path, 0, 512), 0, 512, 0);
    await fh.close();
    await truncate(file, 128 * MiB);
    const dev = await attachLoop(file);
    loops.push(dev);
    const started = Date.now();
    const r = await run('node', ['bin/flashroot.js', 'write', image.path, '--drive', dev, '--allow-virtual', `--yes-i-am-sure=${dev}`], {
      okExitCodes: ANY_EXIT,
      timeoutMs: 60_000,
    });
    expect(r.exitCode).toBe(7);
    expect(r.stderr).toMatch(/Writing \/dev\/loop\d+ failed at byte \d+: .*(ENOSPC|EIO)[\s\S]*will not boot half-written/);
    expect(Date.now() - started).toBeLessThan(30_000);
    await expectNotBootable(file);
  });

  it('a drive that vanishes mid-write (capacity drops to 0, like a pulled card) is reported as vanished', async () => {
    const file = join(dir, 'vanishing.bin');
    const dev = await stick(file, 128 * MiB);
    const drive = await facts(dev);
    let pulled = false;
    const write = flashImage({
      image: image.path,
      drive,
      map,
      onProgress: () => {
        if (pulled) return;
        pulled = true;
        // Synchronous on purpose: the card is gone before the writer's next block, every time.
        execFileSync('truncate', ['-s', '0', file]);
        execFileSync('losetup', ['--set-capacity', dev]);
      },
    });
    const err = await write.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceVanishedError);
    expect((err as DeviceVanishedError).message).toMatch(/disappeared while writing at byte \d+/);
    expect((err as DeviceVanishedError).exitCode).not.toBe(0);
  });

  it('Ctrl-C (an abort) stops between blocks and leaves the stick without a partition table', async () => {
    const file = join(dir, 'aborted.bin');
    const dev = await stick(file, 128 * MiB);
    const ac = new AbortController();
    const err = await flashImage({ image: image.path, drive: await facts(dev), map, signal: ac.signal, onProgress: () => ac.abort() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WriteAbortedError);
    expect((err as WriteAbortedError).state).toBe('not-bootable');
    expect((err as WriteAbortedError).message).toMatch(/will not boot half-written/);
    await expectNotBootable(file);
  });

  it('verification reads the device, not the page cache, and names the first differing byte', async () => {
    const file = join(dir, 'corrupted.bin');
    const dev = await stick(file, 128 * MiB);
    const drive = await facts(dev);
    const ok = await flashImage({ image: image.path, drive, map });
    expect(ok.verify.bytesRead).toBe(map.mappedBytes);
    // A byte inside the last mapped range (file data), corrupted behind the page cache's back:
    // the loop device's cache still holds what was written, the medium no longer does.
    const last = map.ranges.at(-1);
    if (!last) throw new Error('empty map');
    const offset = last.end - 777;
    // Held open: the kernel drops a block device's page cache at its last close.
    const held = await open(dev, 'r');
    try {
      const cached = Buffer.alloc(1);
      await held.read(cached, 0, 1, offset);
      const fh = await open(file, 'r+');
      await fh.write(Buffer.from([(cached[0] ?? 0) ^ 0xff]), 0, 1, offset);
      await fh.close();
      const again = Buffer.alloc(1);
      await held.read(again, 0, 1, offset);
      expect(again.equals(cached), 'a buffered read still sees the cached byte').toBe(true);
      const err = await verifyDrive({ image: image.path, drive, map }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerifyMismatchError);
      expect((err as VerifyMismatchError).offset).toBe(offset);
      expect((err as VerifyMismatchError).message).toContain(`at byte ${offset}`);
    } finally {
      await held.close();
    }
  });

  it('a mismatch found while writing erases the partition table again and exits 8', async () => {
    const file = join(dir, 'bad-medium.bin');
    const dev = await stick(file, 128 * MiB);
    const last = map.ranges.at(-1);
    if (!last) throw new Error('empty map');
    const offset = last.end - 4096 + 5;
    let broken = false;
    const err = await flashImage({
      image: image.path,
      drive: await facts(dev),
      map,
      onProgress: (p) => {
        if (p.phase !== 'verifying' || broken) return;
        broken = true;
        // The medium "forgets" a byte after it was written (synchronously: before the next read-back).
        const fd = openSync(file, 'r+');
        writeSync(fd, Buffer.from('X'), 0, 1, offset);
        closeSync(fd);
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerifyMismatchError);
    expect((err as VerifyMismatchError).offset).toBe(offset);
    expect((err as VerifyMismatchError).madeNotBootable).toBe(true);
    expect((err as VerifyMismatchError).exitCode).toBe(8);
    await expectNotBootable(file);
  });

  it('a user who may not open the device is told to run as root, before any confirmation', async () => {
    const dev = await stick(join(dir, 'perm.bin'), 128 * MiB);
    await chmod(dir, 0o755);
    await chmod(image.path, 0o644);
    const r = await run(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', 'bin/flashroot.js', 'write', image.path, '--drive', dev, '--allow-virtual', `--yes-i-am-sure=${dev}`],
      { okExitCodes: ANY_EXIT, env: { HOME: '/tmp' }, timeoutMs: 60_000 },
    );
    expect(r.exitCode).toBe(77);
    expect(r.stderr).toMatch(/Permission denied opening \/dev\/loop\d+[\s\S]*run it with sudo/);
    expect(r.stderr).not.toContain('About to ERASE');
  });
});
