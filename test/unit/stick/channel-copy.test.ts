import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COPY_ALIGN,
  copyAreaBytes,
  copyLayout,
  copyShellDefaults,
  copySlotOffset,
  defaultCopyBytes,
  formatCopyHeader,
  formatCopySuperblock,
  IMAGE_OFFSET,
  isCopySuperblock,
  maxCopyImage,
  MIN_COPY_BYTES,
  minCopyBytes,
  parseCopyHeader,
  parseCopySuperblock,
  type CopyHeader,
} from '../../../src/stick/channel-copy.js';
import { formatSuperblock, savesLayout } from '../../../src/stick/saves-area.js';
import { run } from '../../../src/util/run.js';

const MiB = 2 ** 20;
const BIN = fileURLToPath(new URL('../../../overlays/system/bin/', import.meta.url));
const header = (over: Partial<CopyHeader> = {}): CopyHeader => ({ channel: 'stable', version: 7, image: `root-${'ab'.repeat(32)}.sqfs`, bytes: 40 * MiB, manifestBytes: 700, time: 1_790_000_000, ...over });

describe('channel copy area layout', () => {
  it('two slots on 4 MiB boundaries after the superblock; by default each holds twice the image', () => {
    const image = 50e6;
    const bytes = defaultCopyBytes(image);
    const l = copyLayout(bytes);
    expect(l.slots).toBe(2);
    expect(l.firstSlot).toBe(COPY_ALIGN);
    for (let i = 0; i < 2; i++) expect(copySlotOffset(l, i) % COPY_ALIGN).toBe(0);
    expect(maxCopyImage(l)).toBeGreaterThanOrEqual(2 * image);
    expect(copySlotOffset(l, 1) + l.slotBytes).toBeLessThanOrEqual(bytes);
    expect(bytes / MiB).toBe(204);
    expect(IMAGE_OFFSET % MiB).toBe(0);
  });

  it('the smallest area for an image holds it twice; below that, and below three erase blocks, it is refused', () => {
    const l = copyLayout(minCopyBytes(50e6));
    expect(maxCopyImage(l)).toBeGreaterThanOrEqual(50e6);
    expect(maxCopyImage(l)).toBeLessThan(50e6 + COPY_ALIGN);
    expect(() => copyLayout(MIN_COPY_BYTES - 512)).toThrow(RangeError);
  });

  it('a build takes the size given when two copies of its image fit, else says what would', () => {
    expect(copyAreaBytes(undefined, 50e6)).toBe(defaultCopyBytes(50e6));
    expect(copyAreaBytes(512 * MiB, 50e6)).toBe(512 * MiB);
    expect(() => copyAreaBytes(64 * MiB, 50e6)).toThrow(/--offline-copy 64.0 MiB: two copies of this image \(47.7 MiB\) need 108.0 MiB/);
    try {
      copyAreaBytes(64 * MiB, 50e6);
    } catch (e) {
      expect((e as { hint?: string }).hint).toBe('give at least 108MiB, or leave the size out (room for two copies of twice this image: 204MiB)');
    }
  });
});

describe('channel copy headers', () => {
  it('renders and reads back a complete header, a pending one, and tells empty from damaged', () => {
    const l = copyLayout(minCopyBytes(50 * MiB));
    expect(parseCopyHeader(formatCopyHeader(header(), 'complete'), l)).toEqual({ kind: 'complete', header: header() });
    expect(parseCopyHeader(formatCopyHeader(header(), 'pending'), l)).toEqual({ kind: 'pending', version: 7 });
    expect(parseCopyHeader(Buffer.alloc(512))).toEqual({ kind: 'empty' });
    expect(parseCopyHeader(Buffer.from('FLASHROOT-GEN 1\nstate=complete\nend\n'))).toEqual({ kind: 'damaged' });
    // Longer than its slot, a manifest larger than its room, or no end line: never a complete copy.
    expect(parseCopyHeader(formatCopyHeader(header({ bytes: maxCopyImage(l) + 1 }), 'complete'), l).kind).toBe('damaged');
    expect(parseCopyHeader(formatCopyHeader(header({ manifestBytes: 5000 }), 'complete'), l).kind).toBe('damaged');
    const cut = formatCopyHeader(header(), 'complete');
    cut.fill(0, cut.indexOf('end\n'));
    expect(parseCopyHeader(cut, l).kind).toBe('damaged');
  });

  it('a copy superblock is told from a saves superblock (both areas are partition 2, type 0xDA)', () => {
    const sb = formatCopySuperblock('0a0b0c0d', copyLayout(64 * MiB));
    expect(isCopySuperblock(sb)).toBe(true);
    expect(parseCopySuperblock(sb)).toEqual({ disk: '0a0b0c0d', slots: 2, slotBytes: 28 * MiB, firstSlot: 4 * MiB });
    expect(isCopySuperblock(formatSuperblock('0a0b0c0d', savesLayout(64 * MiB)))).toBe(false);
  });
});

/** channel-copy-lib.sh (with saves-lib.sh) under busybox sh against a file standing in for partition 2. */
describe('channel-copy-lib.sh reads and writes what channel-copy.ts does', () => {
  let dir: string;
  let area: string;
  let disk: string;
  const l = copyLayout(64 * MiB);
  const env = Object.entries(copyShellDefaults()).map(([k, v]) => `${k}='${v}'`).join('\n');
  const sh = async (script: string) => {
    const r = await run('busybox', ['sh', '-c', `${env}\n. ${BIN}saves-lib.sh\n. ${BIN}channel-copy-lib.sh\nfr_cc_open ${area} ${disk} || exit 9\n${script}`]);
    return r.stdout.trim();
  };
  const writeAt = async (offset: number, data: Buffer) => {
    const fh = await open(area, 'r+');
    await fh.write(data, 0, data.length, offset);
    await fh.close();
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flashroot-copy-lib-'));
    area = join(dir, 'area');
    disk = join(dir, 'disk');
    const mbr = Buffer.alloc(512);
    mbr.writeUInt32LE(0x0d0c0b0a, 440);
    await (await open(disk, 'w')).writeFile(mbr).then(() => undefined);
    const fh = await open(area, 'w');
    await fh.truncate(64 * MiB);
    await fh.write(formatCopySuperblock('0a0b0c0d', l), 0, 512, 0);
    await fh.close();
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('opens the area for its own disk only', async () => {
    expect(await sh('echo "$FR_SV_SLOTS $FR_SV_SLOT_BYTES $FR_SV_FIRST $(fr_cc_capacity)"')).toBe(`2 ${l.slotBytes} ${l.firstSlot} ${maxCopyImage(l)}`);
    const other = await run('busybox', ['sh', '-c', `${env}\n. ${BIN}saves-lib.sh\n. ${BIN}channel-copy-lib.sh\nfr_cc_open ${area} ${area} || true`]);
    expect(other.stdout).toMatch(/the copy area on .* was made for disk 0a0b0c0d/);
  });

  it('picks an empty slot, then never the newest complete copy; a version already copied needs nothing', async () => {
    expect(await sh(`fr_cc_target ${area} 1 img1 && echo "$FR_CC_SLOT"`)).toBe('0');
    await writeAt(copySlotOffset(l, 0), formatCopyHeader(header({ version: 1, image: 'img1', bytes: 4096 }), 'complete'));
    expect(await sh(`fr_cc_target ${area} 1 img1 || echo none`)).toBe('none');
    expect(await sh(`fr_cc_target ${area} 2 img2 && echo "$FR_CC_SLOT"`)).toBe('1');
    await writeAt(copySlotOffset(l, 1), formatCopyHeader(header({ version: 2, image: 'img2', bytes: 4096 }), 'complete'));
    expect(await sh(`fr_cc_target ${area} 3 img3 && echo "$FR_CC_SLOT"`)).toBe('0');
    expect(await sh(`fr_cc_scan ${area}`)).toBe('2 1 complete img2\n1 0 complete img1');
  });

  it('writes headers the TypeScript side reads: pending, then complete', async () => {
    const tmp = join(dir, 'hdr');
    await sh(`fr_cc_write_header ${area} 0 pending stable 3 img3 8192 650 ${tmp}`);
    const read = async () => {
      const fh = await open(area, 'r');
      const b = Buffer.alloc(512);
      await fh.read(b, 0, 512, copySlotOffset(l, 0));
      await fh.close();
      return parseCopyHeader(b, l);
    };
    expect(await read()).toEqual({ kind: 'pending', version: 3 });
    expect(await sh(`fr_cc_header ${area} 0; echo "$fr_cc_st"`)).toBe('pending');
    await sh(`fr_cc_write_header ${area} 0 complete stable 3 img3 8192 650 ${tmp}`);
    expect(await read()).toMatchObject({ kind: 'complete', header: { channel: 'stable', version: 3, image: 'img3', bytes: 8192, manifestBytes: 650 } });
    expect(await sh(`fr_cc_header ${area} 0; echo "$fr_cc_st"`)).toBe('complete');
  });
});
