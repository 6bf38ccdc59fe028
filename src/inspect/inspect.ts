/**
 * `flashroot inspect`: what is on a built image, read without mounting it: the partition table,
 * the FAT's files, the build manifest, and the boot entries of both loaders.
 */
import { sectionData } from '../boot/pe.js';
import { FatVolume } from '../disk/fat.js';
import { SECTOR, type Mbr } from '../disk/mbr.js';
import { probeStickImage } from '../disk/probe.js';
import { parseFloor } from '../network/channel.js';
import { CHANNEL_FLOOR_PATH, GRUB_CFG, SLOTS, SYSLINUX_CFG, UKI_DIR, type SlotId } from '../stick/paths.js';
import { readSlots } from '../stick/read.js';
import type { SlotState } from '../stick/slots.js';
import { readSavesArea, SAVES_PARTITION_TYPE, type SavesAreaReport } from '../stick/saves-area.js';
import { isCopySuperblock, readCopyArea, type CopyAreaReport } from '../stick/channel-copy.js';
import { open } from 'node:fs/promises';

export interface BootEntry {
  loader: 'syslinux' | 'systemd-boot' | 'grub';
  name: string;
  cmdline: string;
}

export interface Inspection {
  image: string;
  bytes: number;
  mbr: Mbr;
  files: { path: string; size: number }[];
  /** The manifest of the slot the stick boots (slot a of a fresh build). */
  manifest: unknown;
  entries: BootEntry[];
  /** A channel stick's rollback floor: the highest version it has booted (undefined without --channel). */
  channelFloor?: { channel: string; version: number };
  /** The saves area (partition 2, build --persist), when the stick has one. */
  saves?: SavesAreaReport;
  /** The channel's on-stick copy (partition 2, build --offline-copy), when the stick has one. */
  offlineCopy?: CopyAreaReport;
  /** Issue 16: the slots, which is current, which on trial with how many tries left. */
  slots?: SlotsView;
}

export interface SlotsView {
  state?: SlotState;
  stateProblem?: string;
  slots: { slot: SlotId; release?: string; buildId?: string; kernel?: string; bytes?: number; role: 'current' | 'trial' | 'fallback' | 'failed trial' | 'empty' }[];
  /** The slot each loader boots by default. */
  defaults: { loader: string; slot?: SlotId }[];
}

function slotRole(s: SlotId, state: SlotState | undefined, present: boolean): SlotsView['slots'][number]['role'] {
  if (!present) return 'empty';
  if (!state) return s === 'a' ? 'current' : 'fallback';
  if (state.current === s) return 'current';
  if (state.trial === s) return state.tries > 0 ? 'trial' : 'failed trial';
  return 'fallback';
}

/** LABEL blocks of a syslinux.cfg: the MENU LABEL (or label) and the APPEND line. */
export function syslinuxEntries(cfg: string): BootEntry[] {
  const entries: BootEntry[] = [];
  let current: BootEntry | undefined;
  for (const raw of cfg.split('\n')) {
    const line = raw.trim();
    const [keyword = '', ...rest] = line.split(/\s+/);
    const value = rest.join(' ');
    switch (keyword.toUpperCase()) {
      case 'LABEL':
        current = { loader: 'syslinux', name: value, cmdline: '' };
        entries.push(current);
        break;
      case 'MENU':
        if (current && rest[0]?.toUpperCase() === 'LABEL') current.name = rest.slice(1).join(' ');
        break;
      case 'APPEND':
        if (current) current.cmdline = value;
        break;
    }
  }
  return entries;
}

/** menuentry blocks of the shim route's grub.cfg (as grubCfg writes them): the title and the linux line's arguments. */
export function grubEntries(cfg: string): BootEntry[] {
  const entries: BootEntry[] = [];
  for (const m of cfg.matchAll(/^menuentry '((?:[^']|'\\'')*)'(?: --id \S+)? \{\n\s*linux \S+ ?(.*)$/gm)) {
    entries.push({ loader: 'grub', name: (m[1] ?? '').replaceAll("'\\''", "'"), cmdline: m[2] ?? '' });
  }
  return entries;
}

function ukiEntry(path: string, uki: Buffer): BootEntry {
  const osrel = sectionData(uki, '.osrel')?.toString('utf8') ?? '';
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osrel)?.[1];
  const cmdline = sectionData(uki, '.cmdline')?.toString('utf8').replace(/\0+$/, '') ?? '';
  return { loader: 'systemd-boot', name: pretty ?? path, cmdline };
}

async function readSector(image: string, at: number): Promise<Buffer> {
  const fh = await open(image, 'r');
  try {
    return (await fh.read(Buffer.alloc(SECTOR), 0, SECTOR, at)).buffer;
  } finally {
    await fh.close();
  }
}

export async function inspectImage(image: string): Promise<Inspection> {
  const { bytes, mbr, fat: fatPart } = await probeStickImage(image);
  const fat = await FatVolume.mount(image, fatPart.startLba * SECTOR, fatPart.sectors * SECTOR);
  try {
    const files = fat.list().filter((f) => !f.directory).map(({ path, size }) => ({ path, size }));
    const has = (p: string) => files.some((f) => f.path.toLowerCase() === p.toLowerCase());
    const read = readSlots(fat);
    const manifest: unknown = read.manifests[read.state?.current ?? 'a'];
    const slots: SlotsView = {
      ...(read.state ? { state: read.state } : {}),
      ...(read.stateProblem ? { stateProblem: read.stateProblem } : {}),
      slots: SLOTS.map((s) => {
        const m = read.manifests[s];
        return { slot: s, ...(m ? { release: m.release, buildId: m.buildId, kernel: m.kernel, bytes: m.files.reduce((n, f) => n + f.bytes, 0) } : {}), role: slotRole(s, read.state, Boolean(m)) };
      }),
      defaults: read.defaults.map((d) => ({ loader: d.line.loader, ...(d.slot ? { slot: d.slot } : {}) })),
    };
    const entries: BootEntry[] = [];
    if (has(SYSLINUX_CFG)) entries.push(...syslinuxEntries(fat.readFile(SYSLINUX_CFG).toString('utf8')));
    if (has(GRUB_CFG)) entries.push(...grubEntries(fat.readFile(GRUB_CFG).toString('utf8')));
    for (const f of files.filter((f) => f.path.toLowerCase().startsWith(`${UKI_DIR.toLowerCase()}/`) && /^[^/]+\.efi$/i.test(f.path.slice(UKI_DIR.length + 1)))) entries.push(ukiEntry(f.path, fat.readFile(f.path)));
    const channelFloor = has(CHANNEL_FLOOR_PATH) ? parseFloor(fat.readFile(CHANNEL_FLOOR_PATH)) : undefined;
    const part = mbr.partitions.find((p) => p.type === SAVES_PARTITION_TYPE);
    // Partition 2 is raw, a saves area or a channel copy area: its superblock's magic says which.
    const copy = part && isCopySuperblock(await readSector(image, part.startLba * SECTOR));
    const offlineCopy = part && copy ? await readCopyArea(image, part.startLba * SECTOR, part.sectors * SECTOR) : undefined;
    const saves = part && !copy ? await readSavesArea(image, part.startLba * SECTOR, part.sectors * SECTOR) : undefined;
    return {
      image,
      bytes,
      mbr,
      files,
      manifest,
      entries,
      ...(channelFloor ? { channelFloor } : {}),
      ...(saves ? { saves } : {}),
      ...(offlineCopy ? { offlineCopy } : {}),
      ...(read.state || read.stateProblem ? { slots } : {}),
    };
  } finally {
    fat.close();
  }
}
