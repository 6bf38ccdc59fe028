/**
 * Every entry of a root tree as the booted system will see it: the volatile directories (proc,
 * sys, dev, run, tmp) as empty mount points, since capture empties them and the boot mounts over
 * them. Entries come in sorted order, each directory before what it holds.
 */
import { lstat, readdir } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { VOLATILE_DIRS } from './capture.js';

export interface TreeEntry {
  /** Path inside the root, '/etc/hostname'. */
  path: string;
  /** Path on this machine. */
  host: string;
  /** With nanosecond times, which some backends store. */
  st: BigIntStats;
}

export async function* walkRoot(root: string): AsyncGenerator<TreeEntry> {
  async function* walk(dir: string, rel: string): AsyncGenerator<TreeEntry> {
    for (const name of (await readdir(dir)).sort()) {
      const host = join(dir, name);
      const entry = { path: `${rel}/${name}`, host, st: await lstat(host, { bigint: true }) };
      yield entry;
      const volatile = rel === '' && (VOLATILE_DIRS as readonly string[]).includes(name);
      if (entry.st.isDirectory() && !volatile) yield* walk(host, entry.path);
    }
  }
  yield* walk(root, '');
}
