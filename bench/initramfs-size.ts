/**
 * Compressed and unpacked size of another tool's initramfs. The bench asks every tool for zstd, and
 * their chroots carry no microcode, so the file is one zstd stream with no uncompressed early cpio.
 */
import { open, rm, stat } from 'node:fs/promises';
import { FlashrootError } from '../src/errors.js';
import { run } from '../src/util/run.js';
import type { InitramfsSize } from './competitors/types.js';

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export async function initramfsSize(path: string): Promise<InitramfsSize> {
  const f = await open(path, 'r');
  const head = Buffer.alloc(ZSTD_MAGIC.length);
  try {
    await f.read(head, 0, head.length, 0);
  } finally {
    await f.close();
  }
  if (!head.equals(ZSTD_MAGIC)) {
    throw new FlashrootError('EBENCH', `${path} is not a single zstd stream (starts with ${head.toString('hex')})`, {
      hint: 'the bench builds every initramfs with zstd and no early microcode cpio; check the generator options',
    });
  }
  // Unpacked to a file: a stock initramfs can exceed what a subprocess may buffer in memory.
  const unpacked = `${path}.unpacked`;
  try {
    await run('zstd', ['-d', '-q', '-f', path, '-o', unpacked]);
    return { bytes: (await stat(path)).size, uncompressedBytes: (await stat(unpacked)).size };
  } finally {
    await rm(unpacked, { force: true });
  }
}
