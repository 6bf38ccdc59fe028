import type { FileHandle } from 'node:fs/promises';

/** Reads up to `length` bytes at `offset`; shorter at the end of the file. */
export async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}
