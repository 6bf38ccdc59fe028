import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMbr, PARTITION_TYPE, writeMbr } from '../../../src/disk/mbr.js';
import { run } from '../../../src/util/run.js';

describe('writeMbr', () => {
  const mbr = {
    diskSignature: 0xcafe1234,
    partitions: [{ startLba: 2048, sectors: 131072, type: PARTITION_TYPE.fat32Lba, active: true }],
  };

  it('lays out signature, entry and boot code where the spec puts them', () => {
    const code = Buffer.alloc(440, 0xfa);
    const s = writeMbr(mbr, code);
    expect(s.length).toBe(512);
    expect(s.subarray(0, 440).equals(code)).toBe(true);
    expect(s.readUInt32LE(440)).toBe(0xcafe1234);
    expect(s[446]).toBe(0x80);
    expect(s[450]).toBe(0x0c);
    expect(s.readUInt32LE(454)).toBe(2048);
    expect(s.readUInt32LE(458)).toBe(131072);
    expect([s[510], s[511]]).toEqual([0x55, 0xaa]);
    expect(parseMbr(s)).toEqual({ ...mbr, partitions: [{ ...mbr.partitions[0], slot: 1 }] });
  });

  it('is read the same way by sfdisk', async () => {
    const img = join(await mkdtemp(join(tmpdir(), 'mbr-')), 'disk.img');
    await writeFile(img, Buffer.concat([writeMbr(mbr), Buffer.alloc((2048 + 131072) * 512 - 512)]));
    const { stdout } = await run('sfdisk', ['--json', img]);
    const table = (JSON.parse(stdout) as { partitiontable: { label: string; id: string; partitions: { start: number; size: number; type: string; bootable?: boolean }[] } }).partitiontable;
    expect(table.label).toBe('dos');
    expect(table.id).toBe('0xcafe1234');
    expect(table.partitions).toEqual([expect.objectContaining({ start: 2048, size: 131072, type: 'c', bootable: true })]);
  });

  it('refuses what an MBR cannot hold', () => {
    expect(() => writeMbr({ ...mbr, partitions: [{ ...mbr.partitions[0]!, startLba: 2048, sectors: 0xffffffff }] })).toThrow(/does not fit/);
    expect(() => writeMbr(mbr, Buffer.alloc(446))).toThrow(/at most 440/);
    expect(() => parseMbr(Buffer.alloc(512))).toThrow(/no MBR signature/);
    const vbr = writeMbr(mbr);
    vbr[446] = 0x33; // a boot flag no partition table has: this sector is something else
    expect(() => parseMbr(vbr)).toThrow(/entry 1 is not a partition/);
  });
});
