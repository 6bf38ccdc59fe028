/**
 * Assembles a stick image as a plain (sparse) file: our MBR, one active FAT32 partition at 1 MiB
 * filled through FatFs, then the BIOS loader. Written next to the output and renamed at the end,
 * so a failed build never leaves a half image under the requested name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { FlashrootError, UsageError } from '../errors.js';
import { removeOnInterrupt } from '../util/interrupt.js';
import { FatVolume, FAT32_MAX_FILE } from './fat.js';
import { PARTITION_TYPE, SECTOR, writeMbr } from './mbr.js';

export const PARTITION_START = 1 << 20;
const MIB = 1 << 20;
/** FAT32 with 512-byte clusters starts to be valid around 33 MiB; keep a margin. */
const MIN_PARTITION = 64 * MIB;

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
  epoch?: number;
  /** 440 bytes of MBR boot code (BIOS), if any. */
  mbrBootCode?: Uint8Array;
  /** Runs on the finished image before it takes its final name (installs the BIOS loader). */
  finish?: (partialImage: string, partitionOffset: number) => Promise<void>;
}

async function contentSize(c: FatContent): Promise<number> {
  return 'hostPath' in c ? (await stat(c.hostPath)).size : c.byteLength;
}

/** Contents + 10% + 16 MiB for FAT tables and loader files, rounded to MiB, at least 64 MiB. */
export function partitionSizeFor(contentBytes: number): number {
  const want = contentBytes * 1.1 + 16 * MIB;
  return Math.max(MIN_PARTITION, Math.ceil(want / MIB) * MIB);
}

/** A value derived from the label and epoch when reproducible, random otherwise. */
export function stableId(seed: string | undefined): number {
  const bytes = seed === undefined ? randomBytes(4) : createHash('sha256').update(seed).digest();
  return bytes.readUInt32LE(0);
}

export async function assembleImage(spec: ImageSpec): Promise<{ size: number; partitionOffset: number }> {
  let contentBytes = 0;
  for (const f of spec.files) {
    const size = await contentSize(f.content);
    if (size > FAT32_MAX_FILE) {
      throw new FlashrootError('ETOOBIG', `${f.path} is ${size} bytes; FAT32 holds files up to 4 GiB - 1`, {
        hint: 'use a stronger --comp (xz), or leave large directories out of the root',
      });
    }
    contentBytes += size;
  }
  const needed = PARTITION_START + partitionSizeFor(contentBytes);
  const size = spec.size ?? needed;
  if (size < needed) {
    throw new UsageError(
      `--size ${size} bytes is too small: the contents need ${Math.ceil(needed / MIB)} MiB`,
      `use --size ${Math.ceil(needed / MIB)}M or more, or leave --size out`,
    );
  }
  const partitionSectors = Math.floor((size - PARTITION_START) / SECTOR);
  const partial = `${spec.out}.partial`;
  const release = removeOnInterrupt(partial);
  const fh = await open(partial, 'w');
  try {
    await fh.truncate(size);
    const mbr = writeMbr(
      {
        diskSignature: spec.diskSignature,
        partitions: [{ startLba: PARTITION_START / SECTOR, sectors: partitionSectors, type: PARTITION_TYPE.fat32Lba, active: true }],
      },
      spec.mbrBootCode,
    );
    await fh.write(mbr, 0, SECTOR, 0);
  } finally {
    await fh.close();
  }
  try {
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
    await rename(partial, spec.out);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  } finally {
    release();
  }
  return { size, partitionOffset: PARTITION_START };
}
