/**
 * The MBR partition table, written by us: 446 bytes of boot code (syslinux's mbr.bin goes in the
 * first 440), the disk signature at 440, four 16-byte entries at 446, and 0x55AA at 510.
 * CHS fields are filled as "beyond 8 GiB" (1023/254/63): every firmware since the 90s uses LBA.
 */
export const SECTOR = 512;

export const PARTITION_TYPE = {
  fat32Lba: 0x0c,
  linux: 0x83,
  efiSystem: 0xef,
} as const;

export interface MbrPartition {
  startLba: number;
  sectors: number;
  type: number;
  active: boolean;
}

export interface Mbr {
  diskSignature: number;
  partitions: MbrPartition[];
}

const TABLE_OFFSET = 446;
const ENTRY_SIZE = 16;
const MAX_CHS = Buffer.from([0xfe, 0xff, 0xff]);

export function writeMbr(mbr: Mbr, bootCode?: Uint8Array): Buffer {
  if (mbr.partitions.length > 4) throw new RangeError('an MBR holds at most 4 primary partitions');
  const buf = Buffer.alloc(SECTOR);
  if (bootCode) {
    if (bootCode.length > 440) throw new RangeError(`MBR boot code is ${bootCode.length} bytes; at most 440 fit`);
    buf.set(bootCode, 0);
  }
  buf.writeUInt32LE(mbr.diskSignature >>> 0, 440);
  mbr.partitions.forEach((p, i) => {
    const end = p.startLba + p.sectors;
    if (p.startLba < 1 || p.sectors < 1 || end > 0xffffffff) {
      throw new RangeError(`partition ${i + 1} (start ${p.startLba}, ${p.sectors} sectors) does not fit an MBR`);
    }
    const o = TABLE_OFFSET + i * ENTRY_SIZE;
    buf[o] = p.active ? 0x80 : 0x00;
    buf.set(MAX_CHS, o + 1);
    buf[o + 4] = p.type;
    buf.set(MAX_CHS, o + 5);
    buf.writeUInt32LE(p.startLba, o + 8);
    buf.writeUInt32LE(p.sectors, o + 12);
  });
  buf[510] = 0x55;
  buf[511] = 0xaa;
  return buf;
}

/** A partition as read back, with its slot (1-4) in the table. */
export interface ParsedPartition extends MbrPartition {
  slot: number;
}

/**
 * Reads an MBR strictly: a boot flag other than 0x00/0x80 or a partition at LBA 0 means the
 * sector is not a partition table (a VBR, a GPT's protective MBR is still accepted).
 */
export interface ParsedMbr {
  diskSignature: number;
  partitions: ParsedPartition[];
}

export function parseMbr(sector0: Uint8Array): ParsedMbr {
  const buf = Buffer.from(sector0.buffer, sector0.byteOffset, sector0.byteLength);
  if (buf.length < SECTOR || buf[510] !== 0x55 || buf[511] !== 0xaa) throw new Error('no MBR signature (0x55AA) in sector 0');
  const partitions: ParsedPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const o = TABLE_OFFSET + i * ENTRY_SIZE;
    const type = buf[o + 4] ?? 0;
    const sectors = buf.readUInt32LE(o + 12);
    if (type === 0 || sectors === 0) continue;
    const status = buf[o];
    const startLba = buf.readUInt32LE(o + 8);
    if ((status !== 0 && status !== 0x80) || startLba === 0) throw new Error(`MBR entry ${i + 1} is not a partition (boot flag 0x${(status ?? 0).toString(16)}, start ${startLba})`);
    partitions.push({ slot: i + 1, active: status === 0x80, type, startLba, sectors });
  }
  return { diskSignature: buf.readUInt32LE(440), partitions };
}
