/**
 * Whether a file looks like a stick image, from its first sector: the check `inspect` and `try`
 * share, so that a file of another kind is refused in the same words before anything reads it
 * further (or boots it).
 */
import { open, readFile, realpath, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError } from '../errors.js';
import { parseMbr, SECTOR, type ParsedMbr, type ParsedPartition } from './mbr.js';

const FAT_TYPES: readonly number[] = [0x0b, 0x0c, 0xef];
const NOT_OURS = 'is it an image built by flashroot build?';

export interface StickLayout {
  bytes: number;
  mbr: ParsedMbr;
  fat: ParsedPartition;
}

/** A block device's size: stat() says 0 for one, the kernel's sysfs says how many sectors it has. */
export async function blockDeviceBytes(device: string): Promise<number> {
  const name = basename(await realpath(device));
  return Number((await readFile(`/sys/class/block/${name}/size`, 'utf8')).trim()) * SECTOR;
}

export async function probeStickImage(image: string): Promise<StickLayout> {
  const st = await stat(image).catch(() => undefined);
  if (!st?.isFile() && !st?.isBlockDevice()) {
    throw new InputError(image, st ? `'${image}' is not an image file` : `image '${image}' does not exist`, 'give the path of an image built by flashroot build');
  }
  const fh = await open(image, 'r');
  const sector0 = Buffer.alloc(SECTOR);
  try {
    await fh.read(sector0, 0, SECTOR, 0);
  } finally {
    await fh.close();
  }
  let mbr: ParsedMbr;
  try {
    mbr = parseMbr(sector0);
  } catch {
    throw new InputError(image, `'${image}' has no MBR partition table`, NOT_OURS);
  }
  const fat = mbr.partitions.find((p) => FAT_TYPES.includes(p.type));
  if (!fat) throw new InputError(image, `'${image}' has no FAT partition`, NOT_OURS);
  return { bytes: st.isBlockDevice() ? await blockDeviceBytes(image) : st.size, mbr, fat };
}
