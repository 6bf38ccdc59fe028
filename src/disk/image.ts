/**
 * Assembles a stick image as a plain (sparse) file: our MBR, one active FAT32 partition at 1 MiB
 * filled through FatFs, then the BIOS loader. Written next to the output and renamed at the end,
 * so a failed build never leaves a half image under the requested name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { FlashrootError } from '../errors.js';
import { removeOnInterrupt } from '../util/interrupt.js';
import { FatVolume, FAT32_MAX_FILE } from './fat.js';
import { imageSizeWithSaves, PARTITION_START, SAVES_AREA_ALIGN } from './layout.js';
import { diskIdentity, formatSuperblock, MIN_SAVES_BYTES, SAVES_PARTITION_TYPE, savesLayout } from '../stick/saves-area.js';
import { COPY_PARTITION_TYPE, copySuperblockFor, MIN_COPY_BYTES } from '../stick/channel-copy.js';
import { PARTITION_TYPE, SECTOR, writeMbr } from './mbr.js';
import { asNoSpace, checkFreeSpace, checkImageSize } from './space.js';

export { PARTITION_START } from './layout.js';

export type FatContent = Uint8Array | { hostPath: string };

export interface ImageFile {
  path: string;
  content: FatContent;
}

export interface ImageSpec {
  out: string;
  files: readonly ImageFile[];
  label: string;
  serial: number;
  diskSignature: number;
  /** Whole image size in bytes; computed from the contents when absent. */
  size?: number;
  /** With no size: room for this many more bytes (a second system, flashroot update). */
  updateRoomBytes?: number;
  epoch?: number;
  /** Bytes of the saves area (partition 2, after the FAT); none when absent or 0. */
  savesBytes?: number;
  /** Bytes of the channel's copy area (partition 2 too: a stick has saves or a copy, never both). */
  copyBytes?: number;
  /** 440 bytes of MBR boot code (BIOS), if any. */
  mbrBootCode?: Uint8Array;
  /** Runs on the finished image before it takes its final name (installs the BIOS loader). */
  finish?: (partialImage: string, partitionOffset: number) => Promise<void>;
}

async function contentSize(c: FatContent): Promise<number> {
  return 'hostPath' in c ? (await stat(c.hostPath)).size : c.byteLength;
}

/** A value derived from the label and epoch when reproducible, random otherwise. */
export function stableId(seed: string | undefined): number {
  const bytes = seed === undefined ? randomBytes(4) : createHash('sha256').update(seed).digest();
  return bytes.readUInt32LE(0);
}

/** Where the partitions go in an image of `size` bytes: the saves area at its end, aligned, the FAT before it. */
export function partitionPlan(size: number, savesBytes: number): { fatSectors: number; saves?: { start: number; bytes: number } } {
  if (savesBytes <= 0) return { fatSectors: Math.floor((size - PARTITION_START) / SECTOR) };
  const start = Math.floor((size - savesBytes) / SAVES_AREA_ALIGN) * SAVES_AREA_ALIGN;
  return { fatSectors: (start - PARTITION_START) / SECTOR, saves: { start, bytes: Math.floor((size - start) / SECTOR) * SECTOR } };
}

/** Partition 2, raw: what it is, and its first sector (the superblock) for the disk whose sector 0 is `mbr`. */
interface RawArea {
  kind: 'saves' | 'copy';
  bytes: number;
  type: number;
  superblock: (mbr: Uint8Array, bytes: number) => Buffer;
}

function rawAreaOf(spec: ImageSpec): RawArea | undefined {
  const saves = spec.savesBytes ?? 0;
  const copy = spec.copyBytes ?? 0;
  if (saves > 0 && copy > 0) throw new RangeError('a stick has a saves area or a channel copy area, not both');
  if (saves > 0) {
    if (saves < MIN_SAVES_BYTES) throw new RangeError(`a saves area needs at least ${MIN_SAVES_BYTES} bytes`);
    return { kind: 'saves', bytes: saves, type: SAVES_PARTITION_TYPE, superblock: (mbr, bytes) => formatSuperblock(diskIdentity(mbr), savesLayout(bytes)) };
  }
  if (copy > 0) {
    if (copy < MIN_COPY_BYTES) throw new RangeError(`a copy area needs at least ${MIN_COPY_BYTES} bytes`);
    return { kind: 'copy', bytes: copy, type: COPY_PARTITION_TYPE, superblock: copySuperblockFor };
  }
  return undefined;
}

export async function assembleImage(spec: ImageSpec): Promise<{ size: number; partitionOffset: number; saves?: { start: number; bytes: number }; copy?: { start: number; bytes: number } }> {
  let contentBytes = 0;
  for (const f of spec.files) {
    const size = await contentSize(f.content);
    if (size > FAT32_MAX_FILE) {
      // Exit 3 like other input the stick cannot hold (the root is too big for one FAT32 file).
      throw new FlashrootError('ETOOBIG', `${f.path} is ${size} bytes (${(size / 2 ** 30).toFixed(1)} GiB); FAT32 holds files up to 4 GiB - 1`, {
        hint: "leave large directories out of the root (--exclude 'opt/*'), or use a stronger --comp (xz)",
        exitCode: 3,
      });
    }
    contentBytes += size;
  }
  const area = rawAreaOf(spec);
  const savesBytes = area?.bytes ?? 0;
  checkImageSize(spec.size, contentBytes, false, savesBytes);
  await checkFreeSpace(spec.out, contentBytes);
  const size = spec.size ?? imageSizeWithSaves(contentBytes + (spec.updateRoomBytes ?? 0), savesBytes);
  const plan = partitionPlan(size, savesBytes);
  const partitionSectors = plan.fatSectors;
  const partial = `${spec.out}.partial`;
  const release = removeOnInterrupt(partial);
  try {
    await writeImage(spec, partial, size, partitionSectors, area && plan.saves ? { ...plan.saves, area } : undefined);
    await rename(partial, spec.out);
  } catch (e) {
    await rm(partial, { force: true });
    throw await asNoSpace(e, spec.out, contentBytes);
  } finally {
    release();
  }
  return { size, partitionOffset: PARTITION_START, ...(plan.saves && area ? { [area.kind]: plan.saves } : {}) };
}

async function writeImage(spec: ImageSpec, partial: string, size: number, partitionSectors: number, raw?: { start: number; bytes: number; area: RawArea }): Promise<void> {
  const fh = await open(partial, 'w');
  try {
    await fh.truncate(size);
    const mbr = writeMbr(
      {
        diskSignature: spec.diskSignature,
        partitions: [
          { startLba: PARTITION_START / SECTOR, sectors: partitionSectors, type: PARTITION_TYPE.fat32Lba, active: true },
          ...(raw ? [{ startLba: raw.start / SECTOR, sectors: raw.bytes / SECTOR, type: raw.area.type, active: false }] : []),
        ],
      },
      spec.mbrBootCode,
    );
    await fh.write(mbr, 0, SECTOR, 0);
    // The slots stay sparse zeros: an empty header sector is "no generation" (saves) or "no copy".
    if (raw) await fh.write(raw.area.superblock(mbr, raw.bytes), 0, SECTOR, raw.start);
  } finally {
    await fh.close();
  }
  const fat = await FatVolume.format(partial, PARTITION_START, partitionSectors * SECTOR, {
    label: spec.label,
    serial: spec.serial,
    hiddenSectors: PARTITION_START / SECTOR,
    epoch: spec.epoch,
  });
  try {
    for (const f of spec.files) await fat.writeFile(f.path, f.content);
  } finally {
    fat.close();
  }
  await spec.finish?.(partial, PARTITION_START);
}
