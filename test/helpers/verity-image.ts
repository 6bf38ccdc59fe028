/** A small network image as build makes it, for publish tests: squashfs + dm-verity tree, salt = sha256 of the squashfs. */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appendVerityTree } from '../../src/network/verity.js';
import { sha256File } from '../../src/util/hash.js';
import { run } from '../../src/util/run.js';

/** `dir/name.sqfs` from a root holding its name and `dataBytes` of random data (over 4 KiB: a hash tree of its own). */
export async function verityImage(dir: string, name: string, dataBytes: number): Promise<string> {
  await mkdir(join(dir, name, 'etc'), { recursive: true });
  await writeFile(join(dir, name, 'etc/hostname'), `${name}\n`);
  await writeFile(join(dir, name, 'data'), randomBytes(dataBytes));
  const file = join(dir, `${name}.sqfs`);
  await run('mksquashfs', [join(dir, name), file, '-noappend', '-quiet']);
  await appendVerityTree(file, await sha256File(file));
  return file;
}
