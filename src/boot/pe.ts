/**
 * A PE32+ (UEFI executable) reader and section appender, pure over Buffers. It is what turns the
 * systemd stub into a Unified Kernel Image without objcopy or ukify, and it writes the image the
 * same way every time: TimeDateStamp zeroed, checksum recomputed.
 */
import { FlashrootError } from '../errors.js';

/** A PE image flashroot cannot read or extend. */
export class PeError extends FlashrootError {
  constructor(message: string, hint?: string) {
    super('EPE', message, { hint, exitCode: 3 });
  }
}

const DOS_MAGIC = 0x5a4d; // "MZ"
const PE_SIGNATURE = 0x00004550; // "PE\0\0"
const PE32_PLUS_MAGIC = 0x20b;
const E_LFANEW_OFFSET = 0x3c;
const COFF_HEADER_SIZE = 20;
const SECTION_HEADER_SIZE = 40;
const SECTION_NAME_SIZE = 8;
/** The certificate table is data directory 4; a signature there covers the bytes we would change. */
const CERTIFICATE_TABLE_INDEX = 4;
const DATA_DIRECTORY_OFFSET = 112; // from the start of a PE32+ optional header

/** Read-only initialised data: what every UKI payload section is (the stub reads, never runs it). */
export const SCN_INITIALIZED_DATA_READ = 0x40000040;

export interface PeSection {
  name: string;
  virtualSize: number;
  virtualAddress: number;
  sizeOfRawData: number;
  pointerToRawData: number;
  characteristics: number;
}

export interface PeHeaders {
  /** File offsets of the fields flashroot rewrites. */
  offsets: {
    coff: number;
    optional: number;
    sectionTable: number;
    checkSum: number;
  };
  machine: number;
  timeDateStamp: number;
  sizeOfInitializedData: number;
  sectionAlignment: number;
  fileAlignment: number;
  sizeOfImage: number;
  sizeOfHeaders: number;
  checkSum: number;
  certificateTableSize: number;
  sections: PeSection[];
}

/** Field offsets inside the COFF file header and the PE32+ optional header. */
const COFF = { machine: 0, numberOfSections: 2, timeDateStamp: 4, pointerToSymbolTable: 8, numberOfSymbols: 12, sizeOfOptionalHeader: 16 };
const OPT = { magic: 0, sizeOfInitializedData: 8, sectionAlignment: 32, fileAlignment: 36, sizeOfImage: 56, sizeOfHeaders: 60, checkSum: 64, numberOfRvaAndSizes: 108 };

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function need(buf: Buffer, end: number, what: string): void {
  if (end > buf.length) throw new PeError(`Truncated PE image: ${what} ends at byte ${end} but the file has ${buf.length}.`);
}

export function parsePe(buf: Buffer): PeHeaders {
  need(buf, E_LFANEW_OFFSET + 4, 'the DOS header');
  if (buf.readUInt16LE(0) !== DOS_MAGIC) throw new PeError('Not a PE image: no "MZ" DOS header.', 'Give an EFI binary such as linuxx64.efi.stub.');
  const peOffset = buf.readUInt32LE(E_LFANEW_OFFSET);
  const coff = peOffset + 4;
  need(buf, coff + COFF_HEADER_SIZE, 'the COFF header');
  if (buf.readUInt32LE(peOffset) !== PE_SIGNATURE) throw new PeError('Not a PE image: no "PE" signature.');
  const optional = coff + COFF_HEADER_SIZE;
  const sizeOfOptionalHeader = buf.readUInt16LE(coff + COFF.sizeOfOptionalHeader);
  need(buf, optional + sizeOfOptionalHeader, 'the optional header');
  if (buf.readUInt16LE(optional + OPT.magic) !== PE32_PLUS_MAGIC) {
    throw new PeError('Not a PE32+ image (32-bit PE or ROM image).', 'Use the x86-64 stub: /usr/lib/systemd/boot/efi/linuxx64.efi.stub.');
  }
  const directories = buf.readUInt32LE(optional + OPT.numberOfRvaAndSizes);
  const certificateEntry = optional + DATA_DIRECTORY_OFFSET + CERTIFICATE_TABLE_INDEX * 8;
  const certificateTableSize = directories > CERTIFICATE_TABLE_INDEX ? buf.readUInt32LE(certificateEntry + 4) : 0;

  const sectionTable = optional + sizeOfOptionalHeader;
  const count = buf.readUInt16LE(coff + COFF.numberOfSections);
  need(buf, sectionTable + count * SECTION_HEADER_SIZE, 'the section table');
  const sections: PeSection[] = [];
  for (let i = 0; i < count; i++) {
    const at = sectionTable + i * SECTION_HEADER_SIZE;
    sections.push({
      name: buf.toString('latin1', at, at + SECTION_NAME_SIZE).replace(/\0+$/, ''),
      virtualSize: buf.readUInt32LE(at + 8),
      virtualAddress: buf.readUInt32LE(at + 12),
      sizeOfRawData: buf.readUInt32LE(at + 16),
      pointerToRawData: buf.readUInt32LE(at + 20),
      characteristics: buf.readUInt32LE(at + 36),
    });
  }
  return {
    offsets: { coff, optional, sectionTable, checkSum: optional + OPT.checkSum },
    machine: buf.readUInt16LE(coff + COFF.machine),
    timeDateStamp: buf.readUInt32LE(coff + COFF.timeDateStamp),
    sizeOfInitializedData: buf.readUInt32LE(optional + OPT.sizeOfInitializedData),
    sectionAlignment: buf.readUInt32LE(optional + OPT.sectionAlignment),
    fileAlignment: buf.readUInt32LE(optional + OPT.fileAlignment),
    sizeOfImage: buf.readUInt32LE(optional + OPT.sizeOfImage),
    sizeOfHeaders: buf.readUInt32LE(optional + OPT.sizeOfHeaders),
    checkSum: buf.readUInt32LE(optional + OPT.checkSum),
    certificateTableSize,
    sections,
  };
}

/** The contents of a named section as the file holds it (raw data, trimmed to its virtual size). */
export function sectionData(buf: Buffer, name: string): Buffer | undefined {
  const s = parsePe(buf).sections.find((x) => x.name === name);
  return s && buf.subarray(s.pointerToRawData, s.pointerToRawData + Math.min(s.virtualSize, s.sizeOfRawData));
}

/**
 * The PE checksum as the Windows loader (and `objdump -p`) computes it: 16-bit one's-complement
 * style sum of the file with the checksum field taken as zero, plus the file length.
 */
export function peChecksum(buf: Buffer, checkSumOffset: number): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) {
    const word = i === checkSumOffset || i === checkSumOffset + 2 ? 0 : buf.readUInt16LE(i);
    sum += word;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (buf.length % 2 === 1) {
    sum += buf[buf.length - 1] ?? 0;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return (sum + buf.length) >>> 0;
}

export interface NewSection {
  /** At most 8 bytes: images have no string table for longer names. */
  name: string;
  data: Buffer;
  characteristics?: number;
}

/**
 * Returns a new image: the input's headers and sections, then the new sections in the order given,
 * each at the next SectionAlignment boundary in memory and FileAlignment boundary in the file.
 * Bytes after the input's last section (a deprecated COFF symbol table in Debian's stub) are
 * dropped and the symbol table pointer cleared, so the file is headers + contiguous sections: the
 * layout Authenticode hashing (sbsign, the firmware) handles without special cases.
 */
export function addSections(image: Buffer, newSections: readonly NewSection[]): Buffer {
  const pe = parsePe(image);
  if (pe.certificateTableSize !== 0) {
    throw new PeError('The PE image is already signed; adding sections would invalidate its signature.', 'Use an unsigned stub and sign the result (--sign-key/--sign-cert).');
  }
  for (const s of newSections) {
    if (Buffer.byteLength(s.name, 'latin1') > SECTION_NAME_SIZE || s.name.length === 0) {
      throw new PeError(`Section name "${s.name}" must be 1 to ${SECTION_NAME_SIZE} bytes long.`);
    }
  }
  const count = pe.sections.length + newSections.length;
  const tableEnd = pe.offsets.sectionTable + count * SECTION_HEADER_SIZE;
  const firstRaw = Math.min(pe.sizeOfHeaders, ...pe.sections.filter((s) => s.sizeOfRawData > 0).map((s) => s.pointerToRawData));
  if (tableEnd > firstRaw) {
    const room = Math.floor((firstRaw - pe.offsets.sectionTable) / SECTION_HEADER_SIZE) - pe.sections.length;
    throw new PeError(
      `No room in the PE headers for ${newSections.length} more section headers (room for ${Math.max(room, 0)}).`,
      'Use a stub with spare header space, such as Debian\'s /usr/lib/systemd/boot/efi/linuxx64.efi.stub.',
    );
  }

  const rawEnd = Math.max(pe.sizeOfHeaders, ...pe.sections.map((s) => s.pointerToRawData + s.sizeOfRawData));
  const virtualEnd = Math.max(pe.sizeOfImage, ...pe.sections.map((s) => s.virtualAddress + Math.max(s.virtualSize, s.sizeOfRawData)));
  let nextRaw = alignUp(rawEnd, pe.fileAlignment);
  let nextVirtual = alignUp(virtualEnd, pe.sectionAlignment);
  const placed = newSections.map((s) => {
    const section: PeSection = {
      name: s.name,
      virtualSize: s.data.length,
      virtualAddress: nextVirtual,
      sizeOfRawData: alignUp(s.data.length, pe.fileAlignment),
      pointerToRawData: nextRaw,
      characteristics: s.characteristics ?? SCN_INITIALIZED_DATA_READ,
    };
    nextRaw += section.sizeOfRawData;
    nextVirtual = alignUp(nextVirtual + s.data.length, pe.sectionAlignment);
    return { section, data: s.data };
  });

  const out = Buffer.alloc(nextRaw);
  image.copy(out, 0, 0, Math.min(rawEnd, image.length));
  for (const [i, { section, data }] of placed.entries()) {
    writeSectionHeader(out, pe.offsets.sectionTable + (pe.sections.length + i) * SECTION_HEADER_SIZE, section);
    data.copy(out, section.pointerToRawData);
  }
  const { coff, optional } = pe.offsets;
  out.writeUInt16LE(count, coff + COFF.numberOfSections);
  out.writeUInt32LE(0, coff + COFF.timeDateStamp);
  out.writeUInt32LE(0, coff + COFF.pointerToSymbolTable);
  out.writeUInt32LE(0, coff + COFF.numberOfSymbols);
  const addedInitialized = placed.reduce((sum, p) => sum + alignUp(p.section.virtualSize, pe.sectionAlignment), 0);
  out.writeUInt32LE(pe.sizeOfInitializedData + addedInitialized, optional + OPT.sizeOfInitializedData);
  out.writeUInt32LE(nextVirtual, optional + OPT.sizeOfImage);
  out.writeUInt32LE(peChecksum(out, pe.offsets.checkSum), pe.offsets.checkSum);
  return out;
}

function writeSectionHeader(buf: Buffer, at: number, s: PeSection): void {
  buf.fill(0, at, at + SECTION_HEADER_SIZE);
  buf.write(s.name, at, SECTION_NAME_SIZE, 'latin1');
  buf.writeUInt32LE(s.virtualSize, at + 8);
  buf.writeUInt32LE(s.virtualAddress, at + 12);
  buf.writeUInt32LE(s.sizeOfRawData, at + 16);
  buf.writeUInt32LE(s.pointerToRawData, at + 20);
  buf.writeUInt32LE(s.characteristics, at + 36);
}
