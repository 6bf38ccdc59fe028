/**
 * Which bytes of an image must reach the stick. Writing only those makes a 4 GiB image with 40 MB
 * of files take the time of 40 MB.
 *
 * Why not the file's holes (SEEK_DATA/SEEK_HOLE)? A hole only says "these bytes are zero", not
 * "these bytes do not matter": a FAT is mostly zeros (free clusters), and skipping it would leave
 * the stick's old FAT in place, a corrupt filesystem. Holes also vanish when an image is copied or
 * downloaded, and Node cannot ask for them. The filesystem itself knows what matters, so:
 * - everything is written, except
 * - free clusters of a FAT12/16/32 partition (read from its first FAT), and the sectors of the
 *   partition past the filesystem's end;
 * - the part of a squashfs partition past the squashfs' `bytes_used`;
 * - unpartitioned space after the first MiB (before it: MBR, a stale GPT header at LBA 1, boot code).
 * Anything not understood (no MBR, GPT, unknown partition types) is written in full.
 */
import { access, constants, open, stat, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { parseMbr, SECTOR, type ParsedPartition } from '../disk/mbr.js';
import { readAt } from '../util/read-at.js';

export interface ByteRange {
  start: number;
  /** Exclusive. */
  end: number;
}

export interface ImageMap {
  size: number;
  /** Sorted, disjoint, aligned to `alignment` (except the image's end). */
  ranges: ByteRange[];
  mappedBytes: number;
  /** One line per region, saying why it is or is not written. */
  notes: string[];
}

const FIRST_MIB = 1024 * 1024;

interface Partition {
  index: number;
  type: number;
  start: number;
  end: number;
}


function hasBootSignature(sector: Buffer): boolean {
  return sector.length >= SECTOR && sector[510] === 0x55 && sector[511] === 0xaa;
}

/** The four primary MBR entries, or null when sector 0 is not an MBR we can trust. */
/** The image's partitions as byte ranges, or null when sector 0 is not a usable MBR. */
export function imagePartitions(sector0: Buffer, imageSize: number): Partition[] | null {
  let parts: ParsedPartition[];
  try {
    parts = parseMbr(sector0).partitions;
  } catch {
    return null;
  }
  if (!parts.length) return null;
  return parts.map((p) => ({ index: p.slot, type: p.type, start: p.startLba * SECTOR, end: Math.min((p.startLba + p.sectors) * SECTOR, imageSize) }));
}

interface FatLayout {
  kind: 'FAT16' | 'FAT32';
  clusterBytes: number;
  /** Byte offset (in the partition) of cluster 2. */
  dataStart: number;
  clusters: number;
  fatOffset: number;
  fatBytes: number;
  /** Bytes of the partition the filesystem uses. */
  fsBytes: number;
}

export function parseFatBootSector(bs: Buffer): FatLayout | null {
  if (!hasBootSignature(bs)) return null;
  const bps = bs.readUInt16LE(11);
  const spc = bs.readUInt8(13);
  const reserved = bs.readUInt16LE(14);
  const fats = bs.readUInt8(16);
  const rootEntries = bs.readUInt16LE(17);
  const fatSectors = bs.readUInt16LE(22) || bs.readUInt32LE(36);
  const totalSectors = bs.readUInt16LE(19) || bs.readUInt32LE(32);
  const powerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (![512, 1024, 2048, 4096].includes(bps) || !powerOfTwo(spc) || reserved === 0 || fats < 1 || fats > 4) return null;
  const dataStartSectors = reserved + fats * fatSectors + Math.ceil((rootEntries * 32) / bps);
  if (fatSectors === 0 || totalSectors <= dataStartSectors) return null;
  const clusters = Math.floor((totalSectors - dataStartSectors) / spc);
  // The FAT type is decided by the cluster count alone (Microsoft's FAT specification).
  if (clusters < 4085) return null; // FAT12: 12-bit entries are not worth the code; written in full.
  const kind = clusters < 65525 ? 'FAT16' : 'FAT32';
  return {
    kind,
    clusterBytes: spc * bps,
    dataStart: dataStartSectors * bps,
    clusters,
    fatOffset: reserved * bps,
    fatBytes: fatSectors * bps,
    fsBytes: (dataStartSectors + clusters * spc) * bps,
  };
}

/** Byte ranges (relative to the partition) of free clusters. */
export function freeClusters(fat: Buffer, layout: FatLayout): ByteRange[] {
  const width = layout.kind === 'FAT32' ? 4 : 2;
  const free: ByteRange[] = [];
  const last = Math.min(layout.clusters + 1, Math.floor(fat.length / width) - 1);
  for (let c = 2; c <= last; c++) {
    const entry = width === 4 ? fat.readUInt32LE(c * 4) & 0x0fffffff : fat.readUInt16LE(c * 2);
    if (entry !== 0) continue;
    const start = layout.dataStart + (c - 2) * layout.clusterBytes;
    const prev = free.at(-1);
    if (prev && prev.end === start) prev.end += layout.clusterBytes;
    else free.push({ start, end: start + layout.clusterBytes });
  }
  return free;
}

async function skippableInPartition(fh: FileHandle, p: Partition, notes: string[]): Promise<ByteRange[]> {
  const head = await readAt(fh, p.start, SECTOR);
  const shift = (r: ByteRange): ByteRange => ({ start: p.start + r.start, end: Math.min(p.start + r.end, p.end) });
  const fat = parseFatBootSector(head);
  if (fat && p.start + fat.fsBytes <= p.end) {
    const free = freeClusters(await readAt(fh, p.start + fat.fatOffset, fat.fatBytes), fat).map(shift);
    const freeBytes = free.reduce((s, r) => s + r.end - r.start, 0);
    notes.push(`partition ${p.index}: ${fat.kind}, ${freeBytes} bytes in free clusters skipped`);
    return [...free, { start: p.start + fat.fsBytes, end: p.end }];
  }
  if (head.subarray(0, 4).toString('latin1') === 'hsqs') {
    const used = Number(head.readBigUInt64LE(40));
    notes.push(`partition ${p.index}: squashfs, ${used} bytes used`);
    return [{ start: p.start + used, end: p.end }];
  }
  notes.push(`partition ${p.index}: type 0x${p.type.toString(16)} not understood, written in full`);
  return [];
}

/** Sorted union of ranges: adjoining ones are joined before alignment could split them again. */
function union(ranges: ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const prev = out.at(-1);
    if (prev && r.start <= prev.end) prev.end = Math.max(prev.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/** The complement of `skip` in [0, size), with skipped ranges shrunk inward to `alignment`. */
export function complement(size: number, skip: ByteRange[], alignment: number): ByteRange[] {
  const aligned = union(skip)
    .map((r) => ({ start: Math.ceil(r.start / alignment) * alignment, end: Math.floor(Math.min(r.end, size) / alignment) * alignment }))
    .filter((r) => r.end > r.start);
  const out: ByteRange[] = [];
  let pos = 0;
  for (const r of aligned) {
    if (r.start > pos) out.push({ start: pos, end: r.start });
    pos = Math.max(pos, r.end);
  }
  if (pos < size) out.push({ start: pos, end: size });
  return out;
}

export async function mapImage(path: string, alignment = 4096): Promise<ImageMap> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const notes: string[] = [];
    const parts = imagePartitions(await readAt(fh, 0, SECTOR), size);
    const skip: ByteRange[] = [];
    if (!parts) notes.push('no MBR partition table: every byte is written');
    else if (parts.some((p) => p.type === 0xee)) notes.push('GPT disk: every byte is written');
    else {
      const sorted = [...parts].sort((a, b) => a.start - b.start);
      let pos = FIRST_MIB;
      for (const p of sorted) {
        if (p.start > pos) skip.push({ start: pos, end: p.start });
        pos = Math.max(pos, p.end);
        skip.push(...(await skippableInPartition(fh, p, notes)));
      }
      if (pos < size) skip.push({ start: pos, end: size });
    }
    const ranges = complement(size, skip, alignment);
    return { size, ranges, mappedBytes: ranges.reduce((s, r) => s + r.end - r.start, 0), notes };
  } finally {
    await fh.close();
  }
}

export async function imageSize(path: string): Promise<number> {
  try {
    const s = await stat(path);
    await access(path, constants.R_OK);
    if (s.isFile()) return s.size;
  } catch {
    // reported below
  }
  throw new InputError(path, `Image not found, unreadable or not a regular file: ${path}`, 'Build one with `flashroot build`, or check the path.');
}
