import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderDefaults } from '../../../src/initramfs/init-script.js';
import { partitionPlan } from '../../../src/disk/image.js';
import { imageSizeWithSaves, savesAreaStart } from '../../../src/disk/layout.js';
import {
  currentGeneration,
  DEFAULT_SAVES_BYTES,
  diskIdentity,
  formatHeader,
  formatSuperblock,
  GEN_MAGIC,
  HEADER_BYTES,
  maxPayload,
  MIN_SAVES_BYTES,
  parseHeader,
  parseSuperblock,
  PAYLOAD_OFFSET,
  readSlots,
  SAVES_ALIGN,
  savesLayout,
  savesShellDefaults,
  slotOffset,
  SUPER_MAGIC,
  type GenerationHeader,
} from '../../../src/stick/saves-area.js';
import { TEST_DEFAULTS } from '../../helpers/init-sandbox.js';

const MiB = 2 ** 20;
const header = (over: Partial<GenerationHeader> = {}): GenerationHeader => ({
  seq: 3, time: 1_790_000_000, length: 1000, deletions: 12, sha256: 'ab'.repeat(32), fingerprint: 'cd'.repeat(32), comp: 'gzip', ...over,
});

describe('saves area layout', () => {
  it('64 MiB by default: the superblock alone in the first 4 MiB, three 20 MiB slots on 4 MiB boundaries', () => {
    const l = savesLayout(DEFAULT_SAVES_BYTES);
    expect(l).toEqual({ slots: 3, slotBytes: 20 * MiB, firstSlot: 4 * MiB });
    for (let i = 0; i < l.slots; i++) expect(slotOffset(l, i) % SAVES_ALIGN).toBe(0);
    expect(slotOffset(l, 2) + l.slotBytes).toBeLessThanOrEqual(DEFAULT_SAVES_BYTES);
    expect(maxPayload(l)).toBe(20 * MiB - PAYLOAD_OFFSET);
  });
  it('rounds slots down to whole erase blocks and refuses an area below 16 MiB', () => {
    expect(savesLayout(50 * MiB).slotBytes).toBe(12 * MiB);
    expect(MIN_SAVES_BYTES).toBe(16 * MiB);
    expect(() => savesLayout(15 * MiB)).toThrow(RangeError);
  });
  it('puts partition 2 on a 4 MiB boundary after the FAT, at the end of a given --size', () => {
    expect(savesAreaStart(65 * MiB)).toBe(68 * MiB);
    expect(imageSizeWithSaves(0, 64 * MiB)).toBe(68 * MiB + 64 * MiB);
    const plan = partitionPlan(2e9, 64 * MiB);
    expect(plan.saves!.start % (4 * MiB)).toBe(0);
    expect(plan.saves!.start + plan.saves!.bytes).toBeLessThanOrEqual(2e9);
    expect(plan.saves!.bytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(plan.fatSectors * 512 + MiB).toBe(plan.saves!.start);
    expect(partitionPlan(2e9, 0).saves).toBeUndefined();
  });
});

describe('superblock and generation headers', () => {
  it('the identity is the MBR disk signature as the shell reads it (od -tx1: disk order)', () => {
    const s0 = Buffer.alloc(512);
    s0.writeUInt32LE(0x12345678, 440);
    expect(diskIdentity(s0)).toBe('78563412');
  });
  it('round-trips a superblock; text the shell reads line by line, NUL-padded to one sector', () => {
    const sb = formatSuperblock('78563412', savesLayout(DEFAULT_SAVES_BYTES));
    expect(sb.length).toBe(HEADER_BYTES);
    expect(sb.toString('latin1').split('\n')[0]).toBe(SUPER_MAGIC);
    expect(parseSuperblock(sb)).toEqual({ disk: '78563412', slots: 3, slotBytes: 20 * MiB, firstSlot: 4 * MiB });
    expect(parseSuperblock(Buffer.alloc(512))).toBeUndefined();
  });
  it('round-trips a complete header; tells empty, pending and damaged apart', () => {
    expect(parseHeader(formatHeader(header()))).toEqual({ kind: 'complete', header: header() });
    expect(parseHeader(Buffer.alloc(512))).toEqual({ kind: 'empty' });
    expect(parseHeader(Buffer.from(`${GEN_MAGIC}\nstate=pending\nseq=4\nend\n`))).toEqual({ kind: 'pending', seq: 4 });
    // Torn: the sector's end never written.
    expect(parseHeader(formatHeader(header()).subarray(0, 60))).toEqual({ kind: 'damaged' });
    expect(parseHeader(Buffer.from('garbage\n'))).toEqual({ kind: 'damaged' });
    expect(parseHeader(formatHeader(header({ sha256: 'xyz' })))).toEqual({ kind: 'damaged' });
  });
});

describe('reading slots', () => {
  it('the newest generation whose payload matches its sha256 is current; a bad checksum and a pending one are reported', async () => {
    const l = savesLayout(16 * MiB);
    const area = Buffer.alloc(16 * MiB);
    const put = (slot: number, h: GenerationHeader | Buffer, payload?: Buffer) => {
      const at = slotOffset(l, slot);
      (Buffer.isBuffer(h) ? h : formatHeader(h)).copy(area, at);
      payload?.copy(area, at + PAYLOAD_OFFSET);
    };
    const p1 = Buffer.from('deletions\npayload one');
    put(0, header({ seq: 1, length: p1.length, deletions: 10, sha256: createHash('sha256').update(p1).digest('hex') }), p1);
    put(1, header({ seq: 2, length: 5, deletions: 0, sha256: 'ee'.repeat(32) }), Buffer.from('abcde'));
    put(2, Buffer.from(`${GEN_MAGIC}\nstate=pending\nseq=3\nend\n`));
    const slots = await readSlots((o, n) => Promise.resolve(area.subarray(o, o + n)), l);
    expect(slots.map((s) => s.state)).toEqual(['valid', 'bad-checksum', 'pending']);
    expect(currentGeneration(slots)?.seq).toBe(1);
  });
});

describe('TypeScript and shell agree on the format', () => {
  it("the init's baked config carries the format's constants, and the shell reads sectors of HEADER_BYTES", async () => {
    const conf = renderDefaults({ ...TEST_DEFAULTS, persist: ['/etc', '/var/lib/kodi'], saveAtShutdown: true, saveEvery: 60 });
    for (const [k, v] of Object.entries(savesShellDefaults())) expect(conf).toContain(`${k}='${v}'`);
    expect(conf).toContain("FR_PERSIST='/etc /var/lib/kodi'");
    expect(conf).toContain("FR_SAVE_EVERY='60'");
    const lib = await readFile(fileURLToPath(new URL('../../../overlays/system/bin/saves-lib.sh', import.meta.url)), 'utf8');
    expect(lib).toContain(`bs=${HEADER_BYTES} skip=$(($2 / ${HEADER_BYTES}))`);
    // No literal of the format in the shell: the magics come from the config.
    expect(lib).not.toContain(SUPER_MAGIC);
    expect(lib).not.toContain(GEN_MAGIC);
  });
});
