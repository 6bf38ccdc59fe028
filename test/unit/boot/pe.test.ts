import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSections, alignUp, parsePe, peChecksum, PeError, sectionData } from '../../../src/boot/pe.js';
import { UKI_STUB } from '../../../src/boot/uki.js';
import { run } from '../../../src/util/run.js';

interface ObjdumpSection {
  name: string;
  size: number;
  vma: number;
  fileOffset: number;
}

async function objdumpSections(path: string): Promise<ObjdumpSection[]> {
  const { stdout } = await run('objdump', ['-h', path]);
  return [...stdout.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s/gm)].map((m) => ({
    name: m[1] ?? '',
    size: parseInt(m[2] ?? '', 16),
    vma: parseInt(m[3] ?? '', 16),
    fileOffset: parseInt(m[4] ?? '', 16),
  }));
}

async function objdumpHeaderField(path: string, field: string): Promise<number> {
  const { stdout } = await run('objdump', ['-p', path]);
  const m = new RegExp(`^${field}\\s+([0-9a-f]+)`, 'm').exec(stdout);
  if (!m?.[1]) throw new Error(`objdump -p shows no ${field}`);
  return parseInt(m[1], 16);
}

let dir: string;
let stub: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-pe-'));
  stub = await readFile(UKI_STUB.path);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parsePe on Debian 12 systemd stub', () => {
  it('reads the section table as objdump does', async () => {
    const pe = parsePe(stub);
    const theirs = await objdumpSections(UKI_STUB.path);
    expect(pe.sections.map((s) => [s.name, s.virtualSize, s.virtualAddress, s.pointerToRawData])).toEqual(
      theirs.map((s) => [s.name, s.size, s.vma, s.fileOffset]),
    );
    expect(pe.machine).toBe(0x8664);
    expect(pe.sectionAlignment).toBe(await objdumpHeaderField(UKI_STUB.path, 'SectionAlignment'));
    expect(pe.fileAlignment).toBe(await objdumpHeaderField(UKI_STUB.path, 'FileAlignment'));
  });

  it('computes the checksum the stub was linked with', () => {
    const pe = parsePe(stub);
    expect(pe.checkSum).not.toBe(0);
    expect(peChecksum(stub, pe.offsets.checkSum)).toBe(pe.checkSum);
  });

  it('refuses what is not PE32+', () => {
    expect(() => parsePe(Buffer.from('#!/bin/sh\necho not a PE image\n'.padEnd(200)))).toThrow(PeError);
    expect(() => parsePe(stub.subarray(0, 0x100))).toThrow(/Truncated/);
  });
});

describe('addSections', () => {
  const added = [
    { name: '.osrel', data: Buffer.from('NAME=x\n') },
    { name: '.cmdline', data: Buffer.from('console=ttyS0') },
    { name: '.big', data: Buffer.alloc(100_001, 0xab) },
    { name: '.tail', data: Buffer.from([1, 2, 3]) },
  ];

  it('appends aligned sections that objdump and file agree on', async () => {
    const before = parsePe(stub);
    const out = addSections(stub, added);
    const path = join(dir, 'out.efi');
    await writeFile(path, out);

    const theirs = await objdumpSections(path);
    expect(theirs.map((s) => s.name)).toEqual([...before.sections.map((s) => s.name), ...added.map((s) => s.name)]);
    const fresh = theirs.slice(before.sections.length);
    expect(fresh[0]?.vma).toBeGreaterThanOrEqual(before.sizeOfImage);
    for (const [i, s] of fresh.entries()) {
      expect(s.size).toBe(added[i]?.data.length);
      expect(s.vma % before.sectionAlignment).toBe(0);
      expect(s.fileOffset % before.fileAlignment).toBe(0);
      const prev = i === 0 ? undefined : fresh[i - 1];
      if (prev) {
        expect(s.vma).toBe(alignUp(prev.vma + prev.size, before.sectionAlignment));
        expect(s.fileOffset).toBe(alignUp(prev.fileOffset + prev.size, before.fileAlignment));
      }
      expect(sectionData(out, s.name)?.equals(added[i]?.data ?? Buffer.alloc(0))).toBe(true);
    }
    const last = fresh.at(-1);
    expect(await objdumpHeaderField(path, 'SizeOfImage')).toBe(alignUp((last?.vma ?? 0) + (last?.size ?? 0), before.sectionAlignment));
    expect(out.length).toBe(alignUp((last?.fileOffset ?? 0) + (last?.size ?? 0), before.fileAlignment));

    const pe = parsePe(out);
    expect(pe.timeDateStamp).toBe(0);
    expect(pe.checkSum).toBe(peChecksum(out, pe.offsets.checkSum));
    expect(await objdumpHeaderField(path, 'CheckSum')).toBe(pe.checkSum);
    expect(pe.sizeOfInitializedData).toBeGreaterThan(before.sizeOfInitializedData + 100_000);
    // The stub's original sections come through byte for byte.
    for (const s of before.sections) expect(sectionData(out, s.name)?.equals(sectionData(stub, s.name) ?? Buffer.alloc(0))).toBe(true);

    const { stdout } = await run('file', ['-b', path]);
    expect(stdout).toMatch(/^PE32\+ executable \(EFI application\) x86-64.* 12 sections/);
  });

  it('fails with a typed error when the header has no room for more section headers', () => {
    const pe = parsePe(stub);
    const room = Math.floor((pe.sizeOfHeaders - pe.offsets.sectionTable) / 40) - pe.sections.length;
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `.s${i}`, data: Buffer.from([i]) }));
    expect(() => addSections(stub, many(room))).not.toThrow();
    expect(() => addSections(stub, many(room + 1))).toThrow(new RegExp(`room for ${room}\\)`));
  });

  it('refuses long names and signed images', async () => {
    expect(() => addSections(stub, [{ name: '.toolongname', data: Buffer.alloc(1) }])).toThrow(PeError);
    const keyDir = await mkdtemp(join(dir, 'key-'));
    const { generateSigningKey, signEfi } = await import('../../../src/boot/sign.js');
    const key = await generateSigningKey(keyDir, 'flashroot pe test');
    const signed = await signEfi(stub, key);
    expect(parsePe(signed).certificateTableSize).toBeGreaterThan(0);
    expect(() => addSections(signed, [{ name: '.osrel', data: Buffer.alloc(1) }])).toThrow(/already signed/);
  });
});
