/**
 * One 512-byte sector of `key=value` text lines, NUL-padded: the headers of the stick's raw areas
 * (the saves area, src/stick/saves-area.ts; the channel copy area, src/stick/channel-copy.ts), which
 * a busybox shell reads with dd and `case`. The first line is the magic; a line `end` marks a
 * header written whole.
 */
export const TEXT_SECTOR_BYTES = 512;

/** A raw area's geometry: its superblock alone in the first aligned unit, then equal aligned slots. */
export interface SlotLayout {
  slots: number;
  slotBytes: number;
  firstSlot: number;
}

/** `slots` equal slots, each a multiple of `align`, after one `align` unit for the superblock. */
export function slotLayout(areaBytes: number, slots: number, align: number, what: string): SlotLayout {
  const min = align * (1 + slots);
  if (areaBytes < min) throw new RangeError(`a ${what} of ${areaBytes} bytes is smaller than ${min}`);
  return { slots, slotBytes: Math.floor((areaBytes - align) / slots / align) * align, firstSlot: align };
}

export const slotStart = (l: SlotLayout, i: number): number => l.firstSlot + i * l.slotBytes;

export function textSector(lines: readonly string[], what = 'header'): Buffer {
  const text = `${lines.join('\n')}\n`;
  if (Buffer.byteLength(text) > TEXT_SECTOR_BYTES) throw new RangeError(`a ${what} of ${Buffer.byteLength(text)} bytes does not fit one sector`);
  const buf = Buffer.alloc(TEXT_SECTOR_BYTES);
  buf.write(text, 'utf8');
  return buf;
}

/** key=value lines up to the first NUL, or undefined when the first line is not `magic`. */
export function parseTextSector(sector: Uint8Array, magic: string): { fields: Map<string, string>; complete: boolean } | undefined {
  const raw = Buffer.from(sector).toString('latin1');
  const text = raw.slice(0, raw.includes('\0') ? raw.indexOf('\0') : raw.length);
  const lines = text.split('\n');
  if (lines[0] !== magic) return undefined;
  const fields = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const eq = l.indexOf('=');
    if (eq > 0) fields.set(l.slice(0, eq), l.slice(eq + 1));
  }
  return { fields, complete: lines.includes('end') };
}

/** The stick's identity as the shell reads it: the MBR's disk signature bytes (offset 440) in hex, disk order. */
export function diskIdentity(sector0: Uint8Array): string {
  return Buffer.from(sector0.subarray(440, 444)).toString('hex');
}
