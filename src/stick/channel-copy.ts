/**
 * The on-stick copy of a channel's last verified image (build --channel … --offline-copy): MBR
 * partition 2 (type 0xDA like the saves area, no filesystem, its own magic; a stick has one or the
 * other: saves need a local lower, a channel a network one). When the server cannot be reached at
 * boot, the init boots the newest complete copy whose signed manifest verifies with the stick's key
 * and is not below its rollback floor (46-channel.sh). This module owns the format; build writes the
 * superblock, inspect reads it, and the init and the copy daemon (overlays/system/bin/
 * channel-copy-lib.sh) get the constants through the channel's baked config (copyShellDefaults).
 *
 *   0                      superblock (one text sector), alone in its 4 MiB erase block
 *   ALIGN + i × slotBytes  slot i (two slots, A/B): header sector at +0, the signed manifest
 *                          (signify embedded, as fetched) at +MANIFEST_OFFSET, the image (squashfs
 *                          + dm-verity tree, byte for byte as published) at +IMAGE_OFFSET
 *
 * A copy is written into the slot that does not hold the newest complete copy: a pending header,
 * the manifest and the image, a read-back through dm-verity, then the complete header, each synced.
 * A power cut leaves a pending slot (never booted) and the other slot's copy whole. Nothing in a
 * slot is trusted by itself: the signature and dm-verity decide at every boot from it.
 */
import { open } from 'node:fs/promises';
import { MIB } from '../disk/layout.js';
import { UsageError } from '../errors.js';
import { formatBytes } from '../util/log.js';
import { diskIdentity, parseTextSector, slotLayout, slotStart, TEXT_SECTOR_BYTES, textSector, type SlotLayout } from './text-sector.js';

export { SAVES_PARTITION_TYPE as COPY_PARTITION_TYPE } from './saves-area.js';
export const COPY_ALIGN = 4 * MIB;
export const COPY_SLOTS = 2;
export const COPY_SUPER_MAGIC = 'FLASHROOT-COPY 1';
export const COPY_SLOT_MAGIC = 'FLASHROOT-COPY-SLOT 1';
export const MANIFEST_OFFSET = TEXT_SECTOR_BYTES;
/** A signed manifest is ~0.7 KB; the sectors up to 4 KiB are its room. */
export const MAX_SIGNED_MANIFEST = 4096 - MANIFEST_OFFSET;
/** 1 MiB in, so the copy daemon writes the image with dd bs=1M seek=N. */
export const IMAGE_OFFSET = MIB;
/** The superblock's erase block and one per slot: the smallest area, before the image is known. */
export const MIN_COPY_BYTES = COPY_ALIGN * (1 + COPY_SLOTS);

export type CopyLayout = SlotLayout;

const alignUp = (n: number) => Math.ceil(n / COPY_ALIGN) * COPY_ALIGN;
/** A slot that holds an image of `imageBytes`. */
const slotBytesFor = (imageBytes: number) => alignUp(IMAGE_OFFSET + imageBytes);

/** The area that holds two copies of an image of `imageBytes`. */
export const minCopyBytes = (imageBytes: number): number => COPY_ALIGN + COPY_SLOTS * slotBytesFor(imageBytes);
/**
 * By default each slot has room for twice the image being built, so a root that grows still gets
 * its copy for a while: 4× the image in all (a 50 MB image costs 204 MiB, 0.7 % of a 32 GB stick).
 */
export const defaultCopyBytes = (imageBytes: number): number => COPY_ALIGN + COPY_SLOTS * slotBytesFor(2 * imageBytes);

/**
 * The copy area of a build (--offline-copy [SIZE]): as given, which must hold two copies of this
 * image (a smaller area could never be used), or room for two copies of twice this image.
 */
export function copyAreaBytes(given: number | undefined, imageBytes: number): number {
  if (given === undefined) return defaultCopyBytes(imageBytes);
  const need = minCopyBytes(imageBytes);
  if (given < need) {
    throw new UsageError(
      `--offline-copy ${formatBytes(given)}: two copies of this image (${formatBytes(imageBytes)}) need ${formatBytes(need)}`,
      `give at least ${Math.ceil(need / MIB)}MiB, or leave the size out (room for two copies of twice this image: ${Math.ceil(defaultCopyBytes(imageBytes) / MIB)}MiB)`,
    );
  }
  return given;
}

export const copyLayout = (areaBytes: number): CopyLayout => slotLayout(areaBytes, COPY_SLOTS, COPY_ALIGN, 'copy area');

export const copySlotOffset = slotStart;
/** The largest image a slot holds. */
export const maxCopyImage = (l: CopyLayout): number => l.slotBytes - IMAGE_OFFSET;

export interface CopySuperblock extends CopyLayout {
  disk: string;
}

export function formatCopySuperblock(disk: string, l: CopyLayout): Buffer {
  return textSector(
    [COPY_SUPER_MAGIC, `disk=${disk}`, `slots=${l.slots}`, `slot_bytes=${l.slotBytes}`, `first_slot=${l.firstSlot}`, `manifest_offset=${MANIFEST_OFFSET}`, `image_offset=${IMAGE_OFFSET}`, 'end'],
    'copy-area superblock',
  );
}

/** The superblock of a copy area of `areaBytes`, for the disk whose sector 0 is `mbr` (build). */
export const copySuperblockFor = (mbr: Uint8Array, areaBytes: number): Buffer => formatCopySuperblock(diskIdentity(mbr), copyLayout(areaBytes));

export function parseCopySuperblock(sector: Uint8Array): CopySuperblock | undefined {
  const p = parseTextSector(sector, COPY_SUPER_MAGIC);
  if (!p?.complete) return undefined;
  const num = (k: string) => Number(p.fields.get(k));
  const sb = { disk: p.fields.get('disk') ?? '', slots: num('slots'), slotBytes: num('slot_bytes'), firstSlot: num('first_slot') };
  const ok = /^[0-9a-f]{8}$/.test(sb.disk) && [sb.slots, sb.slotBytes, sb.firstSlot].every((n) => Number.isInteger(n) && n > 0) && num('image_offset') === IMAGE_OFFSET && num('manifest_offset') === MANIFEST_OFFSET;
  return ok ? sb : undefined;
}

export interface CopyHeader {
  channel: string;
  version: number;
  /** The image's content-addressed name (root-<sha256>.sqfs), as the manifest names it. */
  image: string;
  /** Image bytes (squashfs + hash tree) at IMAGE_OFFSET. */
  bytes: number;
  /** Bytes of the signed manifest at MANIFEST_OFFSET. */
  manifestBytes: number;
  /** When the copy was completed (the box's clock), seconds since the epoch. */
  time: number;
}

export function formatCopyHeader(h: CopyHeader, state: 'pending' | 'complete'): Buffer {
  return textSector(
    [COPY_SLOT_MAGIC, `state=${state}`, `channel=${h.channel}`, `version=${h.version}`, `image=${h.image}`, `bytes=${h.bytes}`, `manifest_bytes=${h.manifestBytes}`, `time=${h.time}`, 'end'],
    'copy slot header',
  );
}

export type CopySlotState = { kind: 'empty' } | { kind: 'damaged' } | { kind: 'pending'; version?: number } | { kind: 'complete'; header: CopyHeader };

export function parseCopyHeader(sector: Uint8Array, l?: CopyLayout): CopySlotState {
  if (sector.every((b) => b === 0)) return { kind: 'empty' };
  const p = parseTextSector(sector, COPY_SLOT_MAGIC);
  if (!p) return { kind: 'damaged' };
  const f = p.fields;
  const version = Number(f.get('version'));
  if (f.get('state') === 'pending') return Number.isInteger(version) ? { kind: 'pending', version } : { kind: 'pending' };
  const h: CopyHeader = { channel: f.get('channel') ?? '', version, image: f.get('image') ?? '', bytes: Number(f.get('bytes')), manifestBytes: Number(f.get('manifest_bytes')), time: Number(f.get('time')) };
  const ok =
    p.complete &&
    f.get('state') === 'complete' &&
    [h.version, h.bytes, h.manifestBytes, h.time].every((n) => Number.isSafeInteger(n) && n >= 0) &&
    h.manifestBytes > 0 &&
    h.manifestBytes <= MAX_SIGNED_MANIFEST &&
    (!l || h.bytes <= maxCopyImage(l));
  return ok ? { kind: 'complete', header: h } : { kind: 'damaged' };
}

/** The constants the init and the copy daemon need, as shell variables in the channel's baked config. */
export function copyShellDefaults(): Record<string, string> {
  return {
    FR_CC_SUPER_MAGIC: COPY_SUPER_MAGIC,
    FR_CC_SLOT_MAGIC: COPY_SLOT_MAGIC,
    FR_CC_MANIFEST_OFFSET: String(MANIFEST_OFFSET),
    FR_CC_MANIFEST_MAX: String(MAX_SIGNED_MANIFEST),
    FR_CC_IMAGE_OFFSET: String(IMAGE_OFFSET),
  };
}

export interface CopyAreaReport {
  start: number;
  bytes: number;
  superblock?: CopySuperblock;
  identityMatches: boolean;
  slots: { slot: number; state: CopySlotState['kind']; header?: CopyHeader; version?: number }[];
  /** The slot an offline boot tries first: the complete copy with the highest version. */
  newest?: number;
}

/** True when the sector is a copy area's superblock (partition 2 holds saves or a copy). */
export const isCopySuperblock = (sector: Uint8Array): boolean => parseTextSector(sector, COPY_SUPER_MAGIC) !== undefined;

/** What the copy area at `start` of `image` holds, read only (signatures are the init's to check, with the stick's key). */
export async function readCopyArea(image: string, start: number, bytes: number): Promise<CopyAreaReport> {
  const fh = await open(image, 'r');
  try {
    const read = async (offset: number) => (await fh.read(Buffer.alloc(TEXT_SECTOR_BYTES), 0, TEXT_SECTOR_BYTES, offset)).buffer;
    const sb = parseCopySuperblock(await read(start));
    if (!sb) return { start, bytes, identityMatches: false, slots: [] };
    const identityMatches = sb.disk === diskIdentity(await read(0));
    const slots: CopyAreaReport['slots'] = [];
    for (let i = 0; i < sb.slots; i++) {
      const st = parseCopyHeader(await read(start + copySlotOffset(sb, i)), sb);
      if (st.kind === 'complete') slots.push({ slot: i, state: st.kind, header: st.header, version: st.header.version });
      else if (st.kind === 'pending') slots.push({ slot: i, state: st.kind, ...(st.version === undefined ? {} : { version: st.version }) });
      else slots.push({ slot: i, state: st.kind });
    }
    const newest = slots.filter((s) => s.state === 'complete').sort((a, b) => (b.version ?? 0) - (a.version ?? 0))[0]?.slot;
    return { start, bytes, superblock: sb, identityMatches, slots, ...(newest === undefined ? {} : { newest }) };
  } finally {
    await fh.close();
  }
}
