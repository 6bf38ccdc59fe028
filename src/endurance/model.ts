/**
 * The write-endurance model. Pure: numbers in, numbers out, no I/O.
 *
 *   TBW      = capacity × P/E cycles ÷ WAF                      (JEDEC JESD218, "Solid-State Drive
 *              Requirements and Endurance Test Method": endurance rating is the host data that can be
 *              written while wear-levelling spreads it over all blocks; WAF converts host writes to
 *              NAND writes)
 *   lifetime = TBW ÷ host writes per day
 *
 * Every figure is a range (low, high) because P/E ratings and controller behaviour vary between parts
 * of the same "type"; the answer is a range of years, never one number. See docs/endurance.md.
 */
import { UsageError } from '../errors.js';

export interface Range {
  readonly low: number;
  readonly high: number;
}

/** The middle of a range on a log scale, where ranges spanning factors belong. */
export function geometricMiddle(r: Range): number {
  return Math.sqrt(r.low * r.high);
}

export const NAND_TYPES = ['slc', 'pslc', 'mlc', 'tlc', 'qlc'] as const;
export type NandType = (typeof NAND_TYPES)[number];

/**
 * Rated program/erase cycles per cell. Sources: Micron TN-29-17 / "NAND Flash 101" and vendor
 * datasheets for SLC (50k–100k), MLC (3k–10k) and 3D TLC (1k–3k); QLC 100–1,000 (Micron and Intel
 * QLC launch material, 2018); pSLC (TLC/MLC run one bit per cell) 20k–60k from industrial vendors'
 * pSLC notes (ATP, Swissbit). Cheap USB sticks and SD cards use the low end: they get the bins that
 * did not make SSD grade.
 */
export const NAND_PE: Record<NandType, Range> = {
  slc: { low: 50_000, high: 100_000 },
  pslc: { low: 20_000, high: 60_000 },
  mlc: { low: 3_000, high: 10_000 },
  tlc: { low: 1_000, high: 3_000 },
  qlc: { low: 100, high: 1_000 },
};

/**
 * Below this wear the stick dies of charge leakage first. JEDEC JESD47 qualifies flash for 10 years
 * of retention at low cycle counts (JESD218 asks only 1 year, unpowered at 30 °C, at the end of the
 * rated endurance). A lifetime longer than this is "limited by retention, not wear".
 */
export const RETENTION_YEARS = 10;

/**
 * Geometry of a cheap controller (USB stick, SD card). A 16 KiB page is the program unit of current
 * 3D TLC; 4 MiB is the SD Association's allocation unit for 32 GB SDHC cards and a typical erase
 * block for USB sticks (Arnd Bergmann, "Optimizing Linux with cheap flash drives", LWN 2011,
 * https://lwn.net/Articles/428584/, measured 1–8 MiB on real media with flashbench).
 */
export const DEFAULT_PAGE_BYTES = 16 * 2 ** 10;
export const DEFAULT_ERASE_BLOCK_BYTES = 4 * 2 ** 20;

/**
 * Fraction of small random writes that land outside the few erase blocks a cheap controller keeps
 * open and so force it to copy a whole erase block (garbage collection of a block-mapped or hybrid
 * log-block FTL). Bergmann measured 2–8 open allocation units on cheap media: a workload that
 * touches more regions than that (journal, inode tables, bitmaps, data, logs) pays a full-block copy
 * on a share of its writes. 0 is the ideal controller; 1/32 is our pessimistic assumption, an
 * assumption, not a measurement — `--waf N` overrides the whole computation.
 */
export const MERGE_FRACTION: Range = { low: 0, high: 1 / 32 };

/**
 * JESD219A's client workload is dominated by 4 KiB transfers, and ext4 writes its metadata and
 * journal blocks in 4 KiB units: the default mean write size of a read-write root.
 */
export const DEFAULT_RW_WRITE_BYTES = 4 * 2 ** 10;

/**
 * Host writes per day of a stock Debian/Raspberry Pi OS root, read-write on the flash (ext4 with
 * journal, journald persistent), when the user gives none: public write-ups put logging alone at
 * 10–50 MB/day and a whole idle system at 115–170 MB/day (e.g. jrsphoto/satclock
 * docs/SD_CARD_OPTIMIZATION.md); we round up to 200 MB/day for ext4's journal and atime updates.
 * An order of magnitude only; `--measure` replaces it with a real count.
 */
export const DEFAULT_RW_DAILY_BYTES = 200e6;

export interface FlashSpec {
  capacityBytes: number;
  nand: NandType;
  /** A rated P/E count that replaces the NAND type's range. */
  pe?: number;
  /** A fixed WAF that replaces the computed range. */
  waf?: number;
  pageBytes: number;
  eraseBlockBytes: number;
}

/** What one configuration writes to the stick. */
export interface WriteLoad {
  id: string;
  label: string;
  /** Host bytes written to the stick per day. */
  bytesPerDay: number;
  /** Mean size of one write as the controller sees it (a sequential stream counts as one write). */
  meanWriteBytes: number;
  /** Where the figure comes from: the model's default, the user, or a measurement. */
  source: 'default' | 'user' | 'measured';
  /**
   * Sub-page writes that go with each write (a save's two header sectors: src/stick/saves-area.ts);
   * each programs a page of its own. Their bytes are in bytesPerDay.
   */
  smallWritesPerWrite?: number;
}

export interface Estimate {
  load: WriteLoad;
  pe: Range;
  waf: Range;
  /** Host bytes the stick can take before wear-out. */
  tbwBytes: Range;
  /** Years to wear-out; Infinity when nothing is written. */
  years: Range;
  limitedBy: 'wear' | 'retention';
}

/** TBW = capacity × P/E ÷ WAF (JESD218). */
export function tbwBytes(capacityBytes: number, pe: number, waf: number): number {
  return (capacityBytes * pe) / waf;
}

/**
 * WAF of a cheap controller for writes of a given mean size. Each write programs at least one page,
 * and a share of them (MERGE_FRACTION) costs a copy of a whole erase block:
 *   physical bytes per write = max(w, page) + f × eraseBlock
 *   WAF = that ÷ w
 * So WAF grows as writes shrink relative to the page and the erase block, and falls to ~1 for
 * large sequential writes (a periodic save, a reflash).
 */
export function wafRange(meanWriteBytes: number, pageBytes: number, eraseBlockBytes: number, smallWrites = 0): Range {
  // The small writes sit in the same erase block as the large one (a save's slot): one merge at most.
  const at = (f: number) => (Math.max(meanWriteBytes, pageBytes) + smallWrites * pageBytes + f * eraseBlockBytes) / (meanWriteBytes + smallWrites * SECTOR_BYTES);
  return { low: at(MERGE_FRACTION.low), high: at(MERGE_FRACTION.high) };
}

const DAYS_PER_YEAR = 365.25;
const SECTOR_BYTES = 512;
/** A save writes a pending header sector, the payload, then the complete header sector. */
export const SAVE_HEADER_WRITES = 2;

export function estimate(flash: FlashSpec, load: WriteLoad): Estimate {
  checkInputs(flash, [load]);
  const pe = flash.pe === undefined ? NAND_PE[flash.nand] : { low: flash.pe, high: flash.pe };
  const waf = flash.waf === undefined ? wafRange(load.meanWriteBytes, flash.pageBytes, flash.eraseBlockBytes, load.smallWritesPerWrite) : { low: flash.waf, high: flash.waf };
  // The worst case pairs the lowest endurance with the highest amplification.
  const tbw = { low: tbwBytes(flash.capacityBytes, pe.low, waf.high), high: tbwBytes(flash.capacityBytes, pe.high, waf.low) };
  const yearsFor = (bytes: number) => (load.bytesPerDay === 0 ? Infinity : bytes / load.bytesPerDay / DAYS_PER_YEAR);
  const years = { low: yearsFor(tbw.low), high: yearsFor(tbw.high) };
  return { load, pe, waf, tbwBytes: tbw, years, limitedBy: years.low > RETENTION_YEARS ? 'retention' : 'wear' };
}

/** The configurations the issue compares side by side. */
export interface ComparisonInput {
  rwDailyBytes: number;
  rwMeanWriteBytes: number;
  rwSource: WriteLoad['source'];
  /** Bytes the overlay root writes per day (0 by design; measured when --measure ran). */
  overlayDailyBytes: number;
  /** Mean size of those runtime writes, when there are any. */
  overlayMeanWriteBytes?: number;
  overlaySource: WriteLoad['source'];
  /** Size of one reflash of the whole image, and how often it happens. */
  imageBytes: number;
  reflashEveryDays: number;
  saveBytes: number;
  saveEveryHours: number;
}

export function comparisonLoads(c: ComparisonInput): WriteLoad[] {
  // A reflash and a save are single sequential streams: the controller sees one large write.
  const reflashPerDay = c.imageBytes / c.reflashEveryDays;
  // Each save: its payload in one stream, and two header sectors (saves-area.ts); no filesystem metadata.
  const savePerDay = ((c.saveBytes + SAVE_HEADER_WRITES * SECTOR_BYTES) * 24) / c.saveEveryHours;
  // One mean size per configuration: if the overlay root writes small blocks at runtime, they set the
  // WAF for all its bytes (pessimistic for the large reflash and save streams, never optimistic).
  const sized = (streamBytes: number) => (c.overlayDailyBytes > 0 && c.overlayMeanWriteBytes !== undefined ? c.overlayMeanWriteBytes : Math.max(streamBytes, DEFAULT_RW_WRITE_BYTES));
  return [
    { id: 'rw', label: 'read-write root (ext4 + journal)', bytesPerDay: c.rwDailyBytes, meanWriteBytes: c.rwMeanWriteBytes, source: c.rwSource },
    { id: 'overlay', label: `flashroot overlay (reflash ${c.imageBytes > 0 ? `every ${c.reflashEveryDays} d` : 'never'})`, bytesPerDay: c.overlayDailyBytes + reflashPerDay, meanWriteBytes: sized(c.imageBytes), source: c.overlaySource },
    {
      id: 'overlay-save',
      label: `flashroot overlay + save every ${c.saveEveryHours} h`,
      bytesPerDay: c.overlayDailyBytes + reflashPerDay + savePerDay,
      meanWriteBytes: sized(c.saveBytes),
      source: 'user',
      smallWritesPerWrite: SAVE_HEADER_WRITES,
    },
  ];
}

// Bounds outside which an input is a typo, not a device: a 1 MB stick, a 1 PB stick, more cycles than
// any NAND ever rated, or more writes per day than a 10 Gbit/s USB link can carry (≈108 TB).
const LIMITS = {
  capacity: { min: 1e6, max: 1e15 },
  pe: { min: 1, max: 1e6 },
  waf: { min: 1, max: 1e4 },
  daily: { max: 108e12 },
  writeSize: { min: 512 },
};

/** Lists every absurd input at once, with the offending value. */
export function checkInputs(flash: FlashSpec, loads: readonly WriteLoad[]): void {
  const problems: string[] = [];
  const within = (name: string, v: number, min: number, max: number) => {
    if (!Number.isFinite(v) || v < min || v > max) problems.push(`${name} = ${v} is outside ${min}…${max}`);
  };
  within('capacity (bytes)', flash.capacityBytes, LIMITS.capacity.min, LIMITS.capacity.max);
  if (flash.pe !== undefined) within('P/E cycles', flash.pe, LIMITS.pe.min, LIMITS.pe.max);
  if (flash.waf !== undefined) within('WAF', flash.waf, LIMITS.waf.min, LIMITS.waf.max);
  within('page size (bytes)', flash.pageBytes, 512, flash.eraseBlockBytes);
  within('erase block (bytes)', flash.eraseBlockBytes, flash.pageBytes, 1e9);
  for (const l of loads) {
    within(`${l.id}: writes per day (bytes)`, l.bytesPerDay, 0, LIMITS.daily.max);
    within(`${l.id}: mean write size (bytes)`, l.meanWriteBytes, LIMITS.writeSize.min, Number.MAX_VALUE);
  }
  if (problems.length > 0) {
    throw new UsageError(
      `The endurance model cannot use these inputs:\n${problems.map((p) => `- ${p}`).join('\n')}`,
      'Check the units: sizes take K/M/G/T (powers of 1000) or Ki/Mi/Gi/Ti, and WAF cannot be below 1.',
    );
  }
}
