import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { complement, freeClusters, mapImage, parseFatBootSector, imagePartitions } from '../../../src/drives/image-map.js';
import { mbr } from '../../fixtures/drives/make-image.js';

const MiB = 1024 * 1024;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-map-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A FAT32 boot sector: 512-byte sectors, 1 sector per cluster, 32 reserved, 2 FATs of `fatSectors`. */
function fat32BootSector(totalSectors: number, fatSectors: number): Buffer {
  const bs = Buffer.alloc(512);
  bs.writeUInt8(0xeb, 0);
  bs.writeUInt16LE(512, 11);
  bs.writeUInt8(1, 13);
  bs.writeUInt16LE(32, 14);
  bs.writeUInt8(2, 16);
  bs.writeUInt32LE(totalSectors, 32);
  bs.writeUInt32LE(fatSectors, 36);
  bs.writeUInt16LE(0xaa55, 510);
  return bs;
}

describe('imagePartitions', () => {
  it('reads the partitions of a valid MBR, clipped to the image', () => {
    expect(imagePartitions(mbr(64 * MiB), 64 * MiB)).toEqual([{ index: 1, type: 0x0c, start: MiB, end: 64 * MiB }]);
    expect(imagePartitions(mbr(64 * MiB), 32 * MiB)?.[0]?.end).toBe(32 * MiB);
  });

  it('trusts nothing without the signature, with a bad status byte, or a partition at LBA 0', () => {
    const noSig = mbr(64 * MiB);
    noSig.writeUInt16LE(0, 510);
    expect(imagePartitions(noSig, 64 * MiB)).toBeNull();
    const badStatus = mbr(64 * MiB);
    badStatus.writeUInt8(0x42, 446);
    expect(imagePartitions(badStatus, 64 * MiB)).toBeNull();
    const atZero = mbr(64 * MiB);
    atZero.writeUInt32LE(0, 446 + 8);
    expect(imagePartitions(atZero, 64 * MiB)).toBeNull();
  });
});

describe('FAT allocation', () => {
  it('finds the layout of a FAT32 boot sector and refuses FAT12 and nonsense', () => {
    const layout = parseFatBootSector(fat32BootSector(131072, 1024));
    expect(layout).toMatchObject({ kind: 'FAT32', clusterBytes: 512, fatOffset: 32 * 512, dataStart: (32 + 2048) * 512 });
    expect(parseFatBootSector(fat32BootSector(4000, 12))).toBeNull();
    expect(parseFatBootSector(Buffer.alloc(512))).toBeNull();
  });

  it('merges runs of free clusters; used and end-of-chain entries are kept', () => {
    const layout = parseFatBootSector(fat32BootSector(131072, 1024));
    if (!layout) throw new Error('layout');
    const fat = Buffer.alloc(1024 * 512);
    fat.writeUInt32LE(0x0ffffff8, 0);
    fat.writeUInt32LE(0x0fffffff, 4);
    fat.writeUInt32LE(0x0fffffff, 2 * 4); // cluster 2: root directory
    fat.writeUInt32LE(4, 3 * 4); // clusters 3 -> 4: a file
    fat.writeUInt32LE(0x0fffffff, 4 * 4);
    fat.writeUInt32LE(0x10000000, 9 * 4); // upper 4 bits are reserved: still free
    const free = freeClusters(fat, layout);
    expect(free[0]).toEqual({ start: layout.dataStart + 3 * 512, end: layout.dataStart + layout.clusters * 512 });
    expect(free).toHaveLength(1);
  });
});

describe('complement', () => {
  it('shrinks skipped ranges inward to the alignment, so partial blocks are written', () => {
    expect(complement(100_000, [{ start: 5000, end: 60_000 }], 4096)).toEqual([
      { start: 0, end: 8192 },
      { start: 57_344, end: 100_000 },
    ]);
  });

  it('merges overlapping skips and writes everything when nothing is skipped', () => {
    expect(complement(16384, [{ start: 4096, end: 12288 }, { start: 8192, end: 16384 }], 4096)).toEqual([{ start: 0, end: 4096 }]);
    expect(complement(16384, [], 4096)).toEqual([{ start: 0, end: 16384 }]);
    // Adjoining skips (free clusters, then the space past the filesystem) are one skip, not two rounded apart.
    expect(complement(16384, [{ start: 4096, end: 6000 }, { start: 6000, end: 16384 }], 4096)).toEqual([{ start: 0, end: 4096 }]);
  });
});

describe('mapImage', () => {
  it('writes every byte of an image it does not understand', async () => {
    const path = join(dir, 'raw.img');
    await writeFile(path, Buffer.alloc(3 * MiB, 1));
    const m = await mapImage(path);
    expect(m.ranges).toEqual([{ start: 0, end: 3 * MiB }]);
    expect(m.notes[0]).toMatch(/no MBR/);
  });

  it('writes every byte of a GPT disk (protective MBR)', async () => {
    const s = mbr(8 * MiB);
    s.writeUInt8(0xee, 446 + 4);
    s.writeUInt32LE(1, 446 + 8);
    const path = join(dir, 'gpt.img');
    await writeFile(path, Buffer.concat([s, Buffer.alloc(8 * MiB - 512)]));
    expect((await mapImage(path)).mappedBytes).toBe(8 * MiB);
  });

  it('skips free clusters and the space past the filesystem, keeps the first MiB and the metadata', async () => {
    const size = 64 * MiB;
    const sectors = (size - MiB) / 512;
    const image = Buffer.alloc(size);
    mbr(size).copy(image, 0);
    fat32BootSector(sectors - 100, 1024).copy(image, MiB);
    image.writeUInt32LE(0x0fffffff, MiB + 32 * 512 + 2 * 4);
    const path = join(dir, 'fat.img');
    await writeFile(path, image);
    const m = await mapImage(path);
    // First MiB + reserved sectors + 2 FATs + the root directory cluster, rounded up to 4 KiB.
    expect(m.ranges).toEqual([{ start: 0, end: MiB + Math.ceil(((32 + 2048 + 1) * 512) / 4096) * 4096 }]);
    expect(m.notes[0]).toMatch(/FAT32/);
  });

  it('skips a raw squashfs partition past its bytes_used', async () => {
    const size = 8 * MiB;
    const image = Buffer.alloc(size);
    const s0 = mbr(size);
    s0.writeUInt8(0x83, 446 + 4);
    s0.copy(image, 0);
    image.write('hsqs', MiB, 'latin1');
    image.writeBigUInt64LE(10_000n, MiB + 40);
    const path = join(dir, 'sqfs.img');
    await writeFile(path, image);
    const m = await mapImage(path);
    expect(m.ranges).toEqual([{ start: 0, end: MiB + 12_288 }]);
    expect(m.notes[0]).toMatch(/squashfs, 10000 bytes used/);
  });
});
