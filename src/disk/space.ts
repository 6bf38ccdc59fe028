/**
 * Room for the image, checked as soon as it can be: with a lower bound on the contents before the
 * slow steps (the kernel alone is on the stick once per boot entry), exactly before writing, and
 * as a clear error when the filesystem fills anyway (it is shared, and FAT's overhead is estimated).
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NoSpaceError, UsageError } from '../errors.js';
import { imageSizeWithSaves, MIB } from './layout.js';

/** Two FATs of at most ~131k clusters each (FatFs is given the largest cluster that keeps FAT32 valid) and cluster slack. */
const FAT_OVERHEAD = 2 * MIB;

/** Bytes a sparse image really takes on disk: what is written, not its apparent size. */
export function writtenBytesFor(contentBytes: number): number {
  return contentBytes + FAT_OVERHEAD;
}

/** Refuses a --size the contents cannot fit; `atLeast` when contentBytes is a lower bound, not the final figure. */
export function checkImageSize(size: number | undefined, contentBytes: number, atLeast = false, savesBytes = 0): void {
  const needed = imageSizeWithSaves(contentBytes, savesBytes);
  if (size === undefined || size >= needed) return;
  const mib = Math.ceil(needed / MIB);
  throw new UsageError(
    `--size ${size} bytes is too small: the contents need ${atLeast ? 'at least ' : ''}${mib} MiB`,
    `use --size ${mib}MiB or more${atLeast ? ' (the root image is added to that)' : ''}, or leave --size out`,
  );
}

/**
 * Free bytes where `file` will be created, as df's "Avail" counts them (without root's reserve);
 * asked of the nearest directory that exists, since the build creates the rest later.
 */
export async function freeBytesFor(file: string): Promise<number> {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const s = await statfs(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT' || dir === '/') throw e;
      return undefined;
    });
    if (s) return s.bavail * s.bsize;
  }
}

/** Refuses an image of `contentBytes` (`atLeast`: a lower bound) that the filesystem under `out` has no room for. */
export async function checkFreeSpace(out: string, contentBytes: number, atLeast = false): Promise<void> {
  const needed = writtenBytesFor(contentBytes);
  const free = await freeBytesFor(out);
  if (free < needed) throw new NoSpaceError(dirname(out), needed, free, { atLeast });
}

/** An ENOSPC (or quota) failure while writing `out`, told as a NoSpaceError; other errors as they are. */
export async function asNoSpace(err: unknown, out: string, contentBytes: number): Promise<unknown> {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return err;
  const free = await freeBytesFor(out).catch(() => 0);
  return new NoSpaceError(dirname(out), writtenBytesFor(contentBytes), free, { cause: err });
}
