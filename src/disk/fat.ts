/**
 * A FAT32 volume inside an image file, formatted and filled with FatFs (js-fatfs, wasm) through
 * positioned reads and writes on the file: no loop device, no mount, no privileges.
 */
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as FatFs from 'js-fatfs';
import { FlashrootError } from '../errors.js';
import { SECTOR } from './mbr.js';

/** FAT32 needs at least 65525 clusters; FatFs refuses to make a smaller one. */
export const FAT32_MIN_CLUSTERS = 65525;
export const FAT32_MAX_FILE = 0xffffffff;

const FR_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(FatFs)
    .filter(([k, v]) => k.startsWith('FR_') && typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

export class FatError extends FlashrootError {
  constructor(op: string, result: number) {
    super('EFAT', `FAT ${op} failed: ${FR_NAMES[result] ?? result}`, { hint: 'the image file may be too small or damaged; rebuild it' });
  }
}

function check(op: string, r: number): void {
  if (r !== FatFs.FR_OK) throw new FatError(op, r);
}

/** The largest cluster size (bytes, 512..32K) that still leaves FAT32 enough clusters. */
export function chooseClusterSize(volumeBytes: number): number {
  for (let size = 32768; size >= 512; size /= 2) {
    // Leave ~3% for the FATs and reserved sectors.
    if ((volumeBytes * 0.97) / size >= FAT32_MIN_CLUSTERS + 16) return size;
  }
  throw new FlashrootError('EFAT', `a ${volumeBytes}-byte partition is too small for FAT32`, {
    hint: 'FAT32 needs a partition of at least 33 MiB; use a larger --size',
  });
}

/**
 * Tests of power cuts: FLASHROOT_FAULT_AFTER_WRITES=N kills this process (SIGKILL, no clean-up, as
 * a pulled plug) before the Nth sector write of a volume opened for writing.
 */
function faultPoint(n: number): void {
  const after = process.env.FLASHROOT_FAULT_AFTER_WRITES;
  if (after && n >= Number(after)) process.kill(process.pid, 'SIGKILL');
}

class PartitionDisk implements FatFs.DiskIO {
  constructor(
    private readonly fd: number,
    readonly offset: number,
    private readonly sectors: number,
    private readonly readOnly = false,
  ) {}
  initialize(): number {
    return this.status();
  }
  status(): number {
    return this.readOnly ? FatFs.STA_PROTECT : 0;
  }
  read(ff: FatFs.FatFs, _pdrv: number, buff: number, sector: number, count: number): number {
    const len = count * SECTOR;
    const n = readSync(this.fd, ff.HEAPU8, buff, len, this.offset + sector * SECTOR);
    // Past the written end of a sparse file reads short: that is zeros.
    if (n < len) ff.HEAPU8.fill(0, buff + n, buff + len);
    return FatFs.RES_OK;
  }
  write(ff: FatFs.FatFs, _pdrv: number, buff: number, sector: number, count: number): number {
    if (this.readOnly) return FatFs.RES_WRPRT;
    faultPoint(++this.writes);
    this.sectorsWritten += count;
    writeSync(this.fd, ff.HEAPU8, buff, count * SECTOR, this.offset + sector * SECTOR);
    return FatFs.RES_OK;
  }
  /** Write calls so far: a fault-injecting test stops the writer after a given number (FLASHROOT_FAULT_AFTER_WRITES). */
  writes = 0;
  sectorsWritten = 0;
  /** Set on a volume opened for update: FatFs's sync (each file closed) reaches the medium. */
  durable = false;
  ioctl(ff: FatFs.FatFs, _pdrv: number, cmd: number, buff: number): number {
    switch (cmd) {
      case FatFs.CTRL_SYNC:
        if (this.durable) fsyncSync(this.fd);
        return FatFs.RES_OK;
      case FatFs.GET_SECTOR_COUNT:
        ff.setValue(buff, this.sectors, 'i32');
        return FatFs.RES_OK;
      case FatFs.GET_SECTOR_SIZE:
        ff.setValue(buff, SECTOR, 'i16');
        return FatFs.RES_OK;
      case FatFs.GET_BLOCK_SIZE:
        ff.setValue(buff, 1, 'i32');
        return FatFs.RES_OK;
      default:
        return FatFs.RES_PARERR;
    }
  }
}

export interface FormatOptions {
  label: string;
  /** FAT volume serial ("UUID=XXXX-XXXX" to findfs), fixed so builds are reproducible. */
  serial: number;
  /** Partition start in sectors, recorded in the boot sector's hidden-sectors field. */
  hiddenSectors: number;
  /** File and directory timestamps (seconds since the epoch, UTC); now when absent. */
  epoch?: number;
}

const CHUNK = 1 << 20;
const BPB_HIDDEN_SECTORS = 0x1c;
const BS_VOL_ID_FAT32 = 0x43;
const BS_VOL_LAB_FAT32 = 0x47;
const BACKUP_BOOT_SECTOR = 6;
const ATTR_VOLUME_ID = 0x08;

/** A FAT volume label: up to 11 characters of A-Z 0-9 _ -, space padded. */
export function fatLabel(label: string): Buffer {
  if (!/^[A-Z0-9_-]{1,11}$/.test(label)) {
    throw new FlashrootError('ELABEL', `'${label}' is not a usable FAT label`, {
      hint: 'use 1-11 characters among A-Z 0-9 _ - (FAT stores labels in upper case)',
      exitCode: 2,
    });
  }
  return Buffer.from(label.padEnd(11, ' '), 'ascii');
}

/**
 * Copies the boot sector to its backup (sector 6). Boot loaders install their code into the
 * primary only; fsck.fat (and Windows' chkdsk) then report the two as different.
 */
export function syncBackupBootSector(image: string, partitionOffset: number): void {
  const fd = openSync(image, 'r+');
  try {
    const boot = Buffer.alloc(SECTOR);
    readSync(fd, boot, 0, SECTOR, partitionOffset);
    writeSync(fd, boot, 0, SECTOR, partitionOffset + BACKUP_BOOT_SECTOR * SECTOR);
  } finally {
    closeSync(fd);
  }
}

export class FatVolume {
  private constructor(
    private readonly ff: FatFs.FatFs,
    private readonly fd: number,
    private readonly restoreClock: () => void,
    private readonly disk?: PartitionDisk,
  ) {}

  /**
   * Mounts an existing FAT volume read-write for an update (a device or an image file): every file
   * closed is fsynced. Files are written in place; nothing is formatted.
   */
  static async open(image: string, offset: number, size: number, flags: string | number = 'r+'): Promise<FatVolume> {
    return FatVolume.attach(image, flags, (fd) => {
      const disk = new PartitionDisk(fd, offset, Math.floor(size / SECTOR));
      disk.durable = true;
      return disk;
    });
  }

  /** Mounts the existing volume on the disk made over the opened image (closed again if it will not mount). */
  private static async attach(image: string, flags: string | number, diskOf: (fd: number) => PartitionDisk): Promise<FatVolume> {
    const fd = openSync(image, flags);
    try {
      const disk = diskOf(fd);
      const ff = await FatFs.create({ diskio: disk });
      check('mount', ff.f_mount(ff.malloc(FatFs.sizeof_FATFS), '', 1));
      return new FatVolume(ff, fd, () => undefined, disk);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Write calls since the volume was opened (the unit of FLASHROOT_FAULT_AFTER_WRITES). */
  get writeCalls(): number {
    return this.disk?.durable ? this.disk.writes : 0;
  }

  /** Sectors written since the volume was opened. */
  get sectorsWritten(): number {
    return this.disk?.durable ? this.disk.sectorsWritten : 0;
  }

  /** Free bytes, and the cluster size (what a file really takes is rounded up to it). */
  free(): { bytes: number; cluster: number } {
    const ff = this.ff;
    const n = ff.malloc(4);
    const pfs = ff.malloc(4);
    try {
      check('getfree', ff.f_getfree('', n, pfs));
      const clusters = ff.getValue(n, 'i32') >>> 0;
      // FATFS's csize (sectors per cluster) is not exposed; the boot sector has it.
      const boot = Buffer.alloc(SECTOR);
      readSync(this.fd, boot, 0, SECTOR, this.disk?.offset ?? 0);
      const cluster = boot.readUInt8(0x0d) * boot.readUInt16LE(0x0b);
      return { bytes: clusters * cluster, cluster };
    } finally {
      ff.free(pfs);
      ff.free(n);
    }
  }

  exists(path: string): boolean {
    return this.ff.f_stat(path, 0) === FatFs.FR_OK;
  }

  unlink(path: string): void {
    const r = this.ff.f_unlink(path);
    if (r !== FatFs.FR_NO_FILE && r !== FatFs.FR_NO_PATH) check(`unlink ${path}`, r);
  }

  /**
   * Writes `data` over the start of an existing file without changing its size or its clusters:
   * the one-sector state and the loaders' default lines (src/stick/slots.ts). Refuses to grow it.
   */
  overwrite(path: string, data: Uint8Array): void {
    const ff = this.ff;
    const fil = ff.malloc(FatFs.sizeof_FIL);
    const buf = ff.malloc(Math.max(data.length, 1));
    const written = ff.malloc(4);
    try {
      check(`open ${path}`, ff.f_open(fil, path, FatFs.FA_WRITE | FatFs.FA_OPEN_EXISTING));
      if (ff.f_size(fil) < data.length) throw new FlashrootError('EFAT', `${path} is shorter than the ${data.length} bytes to write over it`);
      ff.HEAPU8.set(data, buf);
      check(`write ${path}`, ff.f_write(fil, buf, data.length, written));
      check(`close ${path}`, ff.f_close(fil));
    } finally {
      ff.free(written);
      ff.free(buf);
      ff.free(fil);
    }
  }

  /** Mounts an existing FAT volume read-only, to list and read its files. */
  static async mount(image: string, offset: number, size: number): Promise<FatVolume> {
    return FatVolume.attach(image, 'r', (fd) => new PartitionDisk(fd, offset, Math.floor(size / SECTOR), true));
  }

  /** Formats [offset, offset+size) of the image file as FAT32 and mounts it. */
  static async format(image: string, offset: number, size: number, o: FormatOptions): Promise<FatVolume> {
    const fd = openSync(image, 'r+');
    const sectors = Math.floor(size / SECTOR);
    // FatFs stamps files with the wasm clock; pin it for reproducible builds.
    const realNow = Date.now;
    const realTz = process.env.TZ;
    if (o.epoch !== undefined) {
      const fixed = o.epoch * 1000;
      Date.now = () => fixed;
      process.env.TZ = 'UTC';
    }
    const restoreClock = () => {
      Date.now = realNow;
      if (o.epoch !== undefined) {
        if (realTz === undefined) delete process.env.TZ;
        else process.env.TZ = realTz;
      }
    };
    try {
      const ff = await FatFs.create({ diskio: new PartitionDisk(fd, offset, sectors) });
      const work = ff.malloc(FatFs.FF_MAX_SS * 64);
      check(
        'format',
        ff.f_mkfs('', { fmt: FatFs.FM_FAT32 | FatFs.FM_SFD, n_fat: 2, align: 0, n_root: 0, au_size: chooseClusterSize(size) }, work, FatFs.FF_MAX_SS * 64),
      );
      ff.free(work);
      FatVolume.patchBootSectors(fd, offset, o);
      const fs = ff.malloc(FatFs.sizeof_FATFS);
      check('mount', ff.f_mount(fs, '', 1));
      return new FatVolume(ff, fd, restoreClock);
    } catch (e) {
      restoreClock();
      closeSync(fd);
      throw e;
    }
  }

  /**
   * FatFs picks the serial from the clock, leaves hidden sectors 0 for a partitionless volume, and
   * js-fatfs is built without f_setlabel: set all three in the boot sector and its backup, and put
   * the label in the root directory too, where blkid and Windows look first.
   */
  private static patchBootSectors(fd: number, offset: number, o: FormatOptions): void {
    const label = fatLabel(o.label);
    const boot = Buffer.alloc(SECTOR);
    for (const sector of [0, BACKUP_BOOT_SECTOR]) {
      readSync(fd, boot, 0, SECTOR, offset + sector * SECTOR);
      boot.writeUInt32LE(o.hiddenSectors, BPB_HIDDEN_SECTORS);
      boot.writeUInt32LE(o.serial >>> 0, BS_VOL_ID_FAT32);
      boot.set(label, BS_VOL_LAB_FAT32);
      writeSync(fd, boot, 0, SECTOR, offset + sector * SECTOR);
    }
    // The root directory is the first cluster after the reserved sectors and the FATs.
    const reserved = boot.readUInt16LE(0x0e);
    const fats = boot.readUInt8(0x10);
    const fatSectors = boot.readUInt32LE(0x24);
    const entry = Buffer.alloc(32);
    entry.set(label, 0);
    entry[11] = ATTR_VOLUME_ID;
    writeSync(fd, entry, 0, 32, offset + (reserved + fats * fatSectors) * SECTOR);
  }

  mkdirp(path: string): void {
    let cur = '';
    for (const part of path.split('/').filter(Boolean)) {
      cur += `/${part}`;
      const r = this.ff.f_mkdir(cur);
      if (r !== FatFs.FR_EXIST) check(`mkdir ${cur}`, r);
    }
  }

  /** Writes a file from memory or streams it from a host file, creating parent directories. */
  async writeFile(path: string, content: Uint8Array | { hostPath: string }): Promise<void> {
    const dir = path.slice(0, path.lastIndexOf('/'));
    if (dir) this.mkdirp(dir);
    const ff = this.ff;
    const fil = ff.malloc(FatFs.sizeof_FIL);
    const buf = ff.malloc(CHUNK);
    const written = ff.malloc(4);
    try {
      check(`create ${path}`, ff.f_open(fil, path, FatFs.FA_WRITE | FatFs.FA_CREATE_ALWAYS));
      const put = (data: Uint8Array) => {
        for (let pos = 0; pos < data.length; pos += CHUNK) {
          const part = data.subarray(pos, Math.min(pos + CHUNK, data.length));
          ff.HEAPU8.set(part, buf);
          check(`write ${path}`, ff.f_write(fil, buf, part.length, written));
          if (ff.getValue(written, 'i32') !== part.length) {
            throw new FlashrootError('EFAT', `FAT volume full while writing ${path}`, { hint: 'use a larger --size' });
          }
        }
      };
      if ('hostPath' in content) {
        const fh = await open(content.hostPath, 'r');
        try {
          const chunk = Buffer.alloc(CHUNK);
          for (;;) {
            const { bytesRead } = await fh.read(chunk, 0, CHUNK, null);
            if (bytesRead === 0) break;
            put(chunk.subarray(0, bytesRead));
          }
        } finally {
          await fh.close();
        }
      } else {
        put(content);
      }
      check(`close ${path}`, ff.f_close(fil));
    } finally {
      ff.free(written);
      ff.free(buf);
      ff.free(fil);
    }
  }

  /** Every file and directory under `dir`, depth first, directories with a trailing '/'. */
  list(dir = ''): { path: string; size: number; directory: boolean }[] {
    const ff = this.ff;
    const dp = ff.malloc(FatFs.sizeof_DIR);
    const fno = ff.malloc(FatFs.sizeof_FILINFO);
    const out: { path: string; size: number; directory: boolean }[] = [];
    try {
      check(`open directory ${dir || '/'}`, ff.f_opendir(dp, dir || '/'));
      for (;;) {
        check(`read directory ${dir || '/'}`, ff.f_readdir(dp, fno));
        const name = ff.FILINFO_fname(fno);
        if (!name) break;
        const directory = (ff.FILINFO_fattrib(fno) & FatFs.AM_DIR) !== 0;
        out.push({ path: `${dir}/${name}${directory ? '/' : ''}`, size: ff.FILINFO_fsize(fno), directory });
      }
      ff.f_closedir(dp);
    } finally {
      ff.free(fno);
      ff.free(dp);
    }
    return out.flatMap((e) => (e.directory ? [e, ...this.list(e.path.slice(0, -1))] : [e]));
  }

  /** Copies a file to the host (streamed, for roots larger than memory would like). */
  copyOut(path: string, hostPath: string): void {
    const out = openSync(hostPath, 'w');
    try {
      this.readChunks(path, (heap, start, n) => writeSync(out, heap, start, n));
    } finally {
      closeSync(out);
    }
  }

  readFile(path: string): Buffer {
    const parts: Buffer[] = [];
    this.readChunks(path, (heap, start, n) => parts.push(Buffer.from(heap.subarray(start, start + n))));
    return Buffer.concat(parts);
  }

  /** Reads a file CHUNK bytes at a time; each chunk is valid only during its callback (it lives in FatFs's heap). */
  private readChunks(path: string, onChunk: (heap: Uint8Array, start: number, bytes: number) => void): void {
    const ff = this.ff;
    const fil = ff.malloc(FatFs.sizeof_FIL);
    const buf = ff.malloc(CHUNK);
    const got = ff.malloc(4);
    try {
      check(`open ${path}`, ff.f_open(fil, path, FatFs.FA_READ));
      for (;;) {
        check(`read ${path}`, ff.f_read(fil, buf, CHUNK, got));
        const n = ff.getValue(got, 'i32');
        if (n === 0) break;
        onChunk(ff.HEAPU8, buf, n);
      }
      ff.f_close(fil);
    } finally {
      ff.free(got);
      ff.free(buf);
      ff.free(fil);
    }
  }


  close(): void {
    try {
      check('unmount', this.ff.f_unmount(''));
    } finally {
      this.restoreClock();
      closeSync(this.fd);
    }
  }
}
