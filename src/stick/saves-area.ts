/**
 * The saves area: MBR partition 2 (type 0xDA, no filesystem), where `flashroot-save` keeps the
 * generations of saved changes and the init reads the newest valid one back. This module owns its
 * format; build writes the superblock, inspect and endurance read it, and the init and the save
 * script (which cannot import TypeScript) get the same constants through the init's baked config
 * (savesShellDefaults → InitDefaults → /etc/flashroot.conf → /run/flashroot/saves.conf).
 *
 *   0                 superblock (one sector of text), alone in its erase block
 *   ALIGN             slot 0: header sector at +0, payload at +PAYLOAD_OFFSET
 *   ALIGN + slotBytes slot 1 …                      (every slot starts on an erase-block boundary)
 *
 * Headers and the superblock are `key=value` text lines so a busybox shell can read them with dd
 * and `case`; NUL padding ends them. A generation is current when its header is complete and the
 * sha256 of its payload matches; the newest (highest seq) such one wins. A save writes a pending
 * header, then the payload, then the complete header, each synced, into a slot that does not hold
 * the current generation: a power cut at any point leaves the current one whole.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { MIB, SAVES_AREA_ALIGN } from '../disk/layout.js';
import { diskIdentity, parseTextSector as parseText, slotLayout, slotStart, textSector as sectorOf, type SlotLayout } from './text-sector.js';

export { diskIdentity } from './text-sector.js';

export const SAVES_PARTITION_TYPE = 0xda;
/** Cheap sticks erase in 4 MiB units (src/endurance/model.ts DEFAULT_ERASE_BLOCK_BYTES); nothing else shares one with a slot. */
export const SAVES_ALIGN = SAVES_AREA_ALIGN;
export const SAVES_SLOTS = 3;
export const SUPER_MAGIC = 'FLASHROOT-SAVES 1';
export const GEN_MAGIC = 'FLASHROOT-GEN 1';
export const HEADER_BYTES = 512;
/** The payload starts one page in, so the header's sector and the payload are separate writes. */
export const PAYLOAD_OFFSET = 4096;
/**
 * 64 MiB by default: three slots of 20 MiB, each holding one compressed generation — settings, a
 * media library's database, Wi-Fi and pairing keys are kilobytes to a few MB — for 0.2 % of a
 * 32 GB stick. Thumbnail caches and downloads belong elsewhere, or in a larger --persist-size.
 */
export const DEFAULT_SAVES_BYTES = 64 * MIB;
/** The superblock's erase block and one aligned unit per slot. */
export const MIN_SAVES_BYTES = SAVES_ALIGN * (1 + SAVES_SLOTS);

export type SavesLayout = SlotLayout;

export const savesLayout = (areaBytes: number): SavesLayout => slotLayout(areaBytes, SAVES_SLOTS, SAVES_ALIGN, 'saves area');

export const slotOffset = slotStart;
export const maxPayload = (l: SavesLayout): number => l.slotBytes - PAYLOAD_OFFSET;

export interface Superblock extends SavesLayout {
  disk: string;
}

export function formatSuperblock(disk: string, layout: SavesLayout): Buffer {
  return sectorOf([SUPER_MAGIC, `disk=${disk}`, `slots=${layout.slots}`, `slot_bytes=${layout.slotBytes}`, `first_slot=${layout.firstSlot}`, `payload_offset=${PAYLOAD_OFFSET}`, 'end'], 'saves-area header');
}

export function parseSuperblock(sector: Uint8Array): Superblock | undefined {
  const p = parseText(sector, SUPER_MAGIC);
  if (!p?.complete) return undefined;
  const num = (k: string) => Number(p.fields.get(k));
  const sb = { disk: p.fields.get('disk') ?? '', slots: num('slots'), slotBytes: num('slot_bytes'), firstSlot: num('first_slot') };
  return /^[0-9a-f]{8}$/.test(sb.disk) && [sb.slots, sb.slotBytes, sb.firstSlot].every((n) => Number.isInteger(n) && n > 0) ? sb : undefined;
}

export interface GenerationHeader {
  seq: number;
  /** Seconds since the epoch, from the box's clock at the save. */
  time: number;
  /** Payload bytes: the deletions list, then the archive. */
  length: number;
  deletions: number;
  sha256: string;
  /** sha256 of what was saved as the save script lists it (names, sizes, times, modes): equal means nothing changed. */
  fingerprint: string;
  comp: 'gzip' | 'none';
}

export function formatHeader(h: GenerationHeader): Buffer {
  return sectorOf([GEN_MAGIC, 'state=complete', `seq=${h.seq}`, `time=${h.time}`, `length=${h.length}`, `deletions=${h.deletions}`, `sha256=${h.sha256}`, `fingerprint=${h.fingerprint}`, `comp=${h.comp}`, 'end'], 'saves-area header');
}

export type HeaderState = { kind: 'empty' } | { kind: 'pending'; seq: number } | { kind: 'damaged' } | { kind: 'complete'; header: GenerationHeader };

export function parseHeader(sector: Uint8Array): HeaderState {
  if (sector.every((b) => b === 0)) return { kind: 'empty' };
  const p = parseText(sector, GEN_MAGIC);
  if (!p) return { kind: 'damaged' };
  const seq = Number(p.fields.get('seq'));
  if (p.fields.get('state') === 'pending' && Number.isInteger(seq)) return { kind: 'pending', seq };
  const f = p.fields;
  const comp = f.get('comp');
  const h = { seq, time: Number(f.get('time')), length: Number(f.get('length')), deletions: Number(f.get('deletions')), sha256: f.get('sha256') ?? '', fingerprint: f.get('fingerprint') ?? '', comp };
  const ok = p.complete && f.get('state') === 'complete' && [h.seq, h.time, h.length, h.deletions].every((n) => Number.isInteger(n) && n >= 0) && h.deletions <= h.length && /^[0-9a-f]{64}$/.test(h.sha256) && (comp === 'gzip' || comp === 'none');
  return ok ? { kind: 'complete', header: h as GenerationHeader } : { kind: 'damaged' };
}

export interface SlotReport {
  slot: number;
  state: 'empty' | 'pending' | 'damaged' | 'valid' | 'bad-checksum' | 'too-long';
  header?: GenerationHeader;
  seq?: number;
}

/** Every slot's state, reading through `read(offset, length)`; the current generation is the valid one with the highest seq. */
export async function readSlots(read: (offset: number, length: number) => Promise<Buffer>, sb: SavesLayout): Promise<SlotReport[]> {
  const out: SlotReport[] = [];
  for (let i = 0; i < sb.slots; i++) {
    const base = slotOffset(sb, i);
    const st = parseHeader(await read(base, HEADER_BYTES));
    if (st.kind === 'empty' || st.kind === 'damaged') out.push({ slot: i, state: st.kind });
    else if (st.kind === 'pending') out.push({ slot: i, state: 'pending', seq: st.seq });
    else if (st.header.length > maxPayload(sb)) out.push({ slot: i, state: 'too-long', header: st.header, seq: st.header.seq });
    else {
      const sum = createHash('sha256').update(await read(base + PAYLOAD_OFFSET, st.header.length)).digest('hex');
      out.push({ slot: i, state: sum === st.header.sha256 ? 'valid' : 'bad-checksum', header: st.header, seq: st.header.seq });
    }
  }
  return out;
}

export function currentGeneration(slots: readonly SlotReport[]): SlotReport | undefined {
  return slots.filter((s) => s.state === 'valid').sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0))[0];
}

/**
 * The constants the init and the save script need, as the shell variables renderDefaults bakes.
 * The shell reads headers as 512-byte sectors (dd bs=512): HEADER_BYTES, checked by a unit test.
 */
export function savesShellDefaults(): Record<string, string> {
  return {
    FR_SAVES_SUPER_MAGIC: SUPER_MAGIC,
    FR_SAVES_GEN_MAGIC: GEN_MAGIC,
    FR_SAVES_PAYLOAD_OFFSET: String(PAYLOAD_OFFSET),
  };
}

export interface SavesAreaReport {
  start: number;
  bytes: number;
  /** Undefined when the superblock is missing or damaged (then nothing else was read). */
  superblock?: Superblock;
  /** The superblock names this disk's signature: the init and flashroot-save use it. */
  identityMatches: boolean;
  slots: SlotReport[];
  current?: number;
}

/** What the saves area at `start` of `image` (a file or a device) holds, read only. */
export async function readSavesArea(image: string, start: number, bytes: number): Promise<SavesAreaReport> {
  const fh = await open(image, 'r');
  try {
    const read = async (offset: number, length: number) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, start + offset);
      return buf.subarray(0, bytesRead);
    };
    const sb = parseSuperblock(await read(0, HEADER_BYTES));
    if (!sb) return { start, bytes, identityMatches: false, slots: [] };
    const identityMatches = sb.disk === diskIdentity(await fh.read(Buffer.alloc(HEADER_BYTES), 0, HEADER_BYTES, 0).then((r) => r.buffer));
    const slots = await readSlots(read, sb);
    return { start, bytes, superblock: sb, identityMatches, slots, current: currentGeneration(slots)?.seq };
  } finally {
    await fh.close();
  }
}
