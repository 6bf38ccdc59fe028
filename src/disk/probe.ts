/**
 * Whether a file looks like a stick image, from its first sector: the check `inspect` and `try`
 * share, so that a file of another kind is refused in the same words before anything reads it
 * further (or boots it).
 */
import { open, stat } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { parseMbr, SECTOR, type ParsedMbr, type ParsedPartition } from './mbr.js';

const FAT_TYPES: readonly number[] = [0x0b, 0x0c, 0xef];
const NOT_OURS = 'is it an image built by flashroot build?';

export interface StickLayout {
  bytes: number;
  mbr: ParsedMbr;
  fat: ParsedPartition;
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
  return { bytes: st.size, mbr, fat };
}
