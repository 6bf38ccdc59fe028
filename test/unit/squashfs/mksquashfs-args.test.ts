import { describe, expect, it } from 'vitest';
import { mksquashfsArgs } from '../../../src/squashfs/mksquashfs.js';

const base = { source: '/src', output: '/out.sqfs', excludes: [] };

describe('mksquashfs arguments', () => {
  it("ask for lz4's high compression only of lz4, and a level only of zstd and gzip", () => {
    expect(mksquashfsArgs({ ...base, compressor: 'lz4', lz4hc: true, level: 3 })).toEqual(['/src', '/out.sqfs', '-noappend', '-comp', 'lz4', '-progress', '-no-recovery', '-Xhc']);
    expect(mksquashfsArgs({ ...base, compressor: 'zstd', lz4hc: true, level: 3 })).toEqual(['/src', '/out.sqfs', '-noappend', '-comp', 'zstd', '-progress', '-no-recovery', '-Xcompression-level', '3']);
  });
});
