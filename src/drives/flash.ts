/**
 * Writes an image's mapped ranges to a drive, then verifies them by reading back from the device.
 *
 * Order matters so that an interrupted write never leaves a stick that looks bootable:
 * 1. the first block (MBR, and a stale GPT header at LBA 1) is zeroed and flushed;
 * 2. every other mapped range is written, in order, and flushed;
 * 3. the first block is written last, and flushed.
 * Whatever stops us during 1–2 (Ctrl-C, a pulled stick, an I/O error) leaves no partition table.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { WriteAbortedError, VerifyMismatchError, WriteFailedError } from './errors.js';
import type { DriveFacts } from './facts.js';
import type { ByteRange, ImageMap } from './image-map.js';
import { alignedBuffer, classifyIoError, mediumPresent, openTarget, type Target } from './device.js';

const CHUNK = 4 * 1024 * 1024;

export type FlashPhase = 'writing' | 'verifying';

export interface FlashProgress {
  phase: FlashPhase;
  bytes: number;
  total: number;
}

export interface FlashOptions {
  image: string;
  drive: DriveFacts;
  map: ImageMap;
  signal?: AbortSignal;
  onProgress?: (p: FlashProgress) => void;
}

export interface VerifyResult {
  /** sha256 over the mapped bytes, image side; equal to the device side or verification throws. */
  sha256: string;
  bytesRead: number;
  ms: number;
}

export interface FlashResult {
  imageSize: number;
  bytesWritten: number;
  writeMs: number;
  verify: VerifyResult;
}

/** The first block: the unit that is zeroed first and written last. */
function headOf(target: Target): ByteRange {
  return { start: 0, end: Math.max(target.alignment, 4096) };
}

/** The mapped ranges cut into chunks, minus the head. */
function* chunks(ranges: readonly ByteRange[], head: ByteRange): Generator<ByteRange> {
  for (const r of ranges) {
    for (let pos = Math.max(r.start, head.end); pos < r.end; pos += CHUNK) {
      yield { start: pos, end: Math.min(pos + CHUNK, r.end) };
    }
  }
}

async function readImage(fh: FileHandle, buf: Buffer, r: ByteRange): Promise<Buffer> {
  const length = r.end - r.start;
  const { bytesRead } = await fh.read(buf, 0, length, r.start);
  // The image is read as it is: a shorter read means it changed under us.
  if (bytesRead !== length) throw new Error(`image shorter than expected at byte ${r.start + bytesRead}`);
  return buf.subarray(0, length);
}

async function writeAt(target: Target, drive: DriveFacts, data: Buffer, offset: number): Promise<void> {
  let written: number;
  try {
    ({ bytesWritten: written } = await target.write(data, 0, data.length, offset));
  } catch (err) {
    throw classifyIoError(drive.path, offset, err, await mediumPresent(drive.path));
  }
  if (written !== data.length) {
    const present = await mediumPresent(drive.path);
    if (!present) throw classifyIoError(drive.path, offset + written, new Error('short write'), false);
    throw new WriteFailedError(drive.path, offset + written, `short write (${written} of ${data.length} bytes)`);
  }
}

async function flush(target: Target, drive: DriveFacts, offset: number): Promise<void> {
  try {
    await target.flush();
  } catch (err) {
    throw classifyIoError(drive.path, offset, err, await mediumPresent(drive.path));
  }
}

async function wipeHead(target: Target, drive: DriveFacts, head: ByteRange): Promise<void> {
  // Aligned buffers come from native memory that is not guaranteed to be zeroed.
  await writeAt(target, drive, alignedBuffer(head.end, target.alignment).fill(0), 0);
  await flush(target, drive, 0);
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/**
 * Reads the mapped ranges back from the drive with O_DIRECT and compares them with the image,
 * block by block (so a mismatch names its first differing byte) and as a whole (sha256).
 */
export async function verifyDrive(opts: FlashOptions, target?: Target): Promise<VerifyResult> {
  const started = performance.now();
  const dev = target ?? (await openTarget(opts.drive, false));
  const fh = await open(opts.image, 'r');
  try {
    const imageBuf = alignedBuffer(CHUNK, dev.alignment);
    const deviceBuf = alignedBuffer(CHUNK, dev.alignment);
    const whole = createHash('sha256');
    let done = 0;
    for (const r of chunks(opts.map.ranges, { start: 0, end: 0 })) {
      if (opts.signal?.aborted) throw new WriteAbortedError(opts.drive.path, 0, 'written-unverified');
      const want = await readImage(fh, imageBuf, r);
      let got: Buffer;
      try {
        const { bytesRead } = await dev.read(deviceBuf, 0, want.length, r.start);
        got = deviceBuf.subarray(0, bytesRead);
      } catch (err) {
        throw classifyIoError(opts.drive.path, r.start, err, await mediumPresent(opts.drive.path));
      }
      const wantSha = createHash('sha256').update(want).digest('hex');
      const gotSha = createHash('sha256').update(got).digest('hex');
      if (wantSha !== gotSha) throw new VerifyMismatchError(opts.drive.path, r.start + firstDifference(want, got), wantSha, gotSha);
      whole.update(got);
      done += got.length;
      opts.onProgress?.({ phase: 'verifying', bytes: done, total: opts.map.mappedBytes });
    }
    return { sha256: whole.digest('hex'), bytesRead: done, ms: performance.now() - started };
  } finally {
    await fh.close();
    if (!target) await dev.close();
  }
}

export async function flashImage(opts: FlashOptions): Promise<FlashResult> {
  const { drive, map, signal } = opts;
  if (signal?.aborted) throw new WriteAbortedError(drive.path, 0, 'untouched');
  const target = await openTarget(drive, true);
  const fh = await open(opts.image, 'r');
  const started = performance.now();
  let written = 0;
  try {
    const buf = alignedBuffer(CHUNK, target.alignment);
    const head = headOf(target);
    const headBytes = Math.min(head.end, map.size);
    await wipeHead(target, drive, head);
    for (const r of chunks(map.ranges, head)) {
      if (signal?.aborted) throw new WriteAbortedError(drive.path, written, 'not-bootable');
      await writeAt(target, drive, await readImage(fh, buf, r), r.start);
      written += r.end - r.start;
      opts.onProgress?.({ phase: 'writing', bytes: written, total: map.mappedBytes });
    }
    await flush(target, drive, written);
    if (signal?.aborted) throw new WriteAbortedError(drive.path, written, 'not-bootable');
    await writeAt(target, drive, await readImage(fh, buf, { start: 0, end: headBytes }), 0);
    await flush(target, drive, 0);
    written += headBytes;
    opts.onProgress?.({ phase: 'writing', bytes: written, total: map.mappedBytes });
    const writeMs = performance.now() - started;
    const verify = await verifyDrive(opts, target).catch(async (err: unknown) => {
      if (!(err instanceof VerifyMismatchError)) throw err;
      // A stick that does not hold what was written must not boot into something half-right.
      await wipeHead(target, drive, head);
      throw new VerifyMismatchError(err.device, err.offset, err.expectedSha256, err.actualSha256, true);
    });
    return { imageSize: map.size, bytesWritten: written, writeMs, verify };
  } finally {
    await fh.close();
    await target.close();
  }
}
