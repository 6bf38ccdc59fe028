/**
 * Paths as the booted root will see them. Symlinks in a captured root point into that root, not
 * into the build host's: an absolute `lib -> /usr/lib` must resolve to ROOT/usr/lib, which the host's
 * own path lookup would get wrong for every component, not just the last.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';

export interface PathInRoot {
  /** The path inside the root with every existing symlink resolved (e.g. /usr/lib/modules/<version>). */
  inRoot: string;
  /** The same path on the build host: join(root, inRoot). */
  host: string;
  /** Whether the whole path exists; the part past the first missing component is kept as given. */
  exists: boolean;
}

export async function pathInRoot(root: string, path: string, maxLinks = 40): Promise<PathInRoot | undefined> {
  let pending = posix.normalize(`/${path}`).split('/').filter(Boolean);
  let done = '/';
  let links = 0;
  while (pending.length > 0) {
    const [name, ...rest] = pending as [string, ...string[]];
    const next = posix.join(done, name);
    const st = await lstat(join(root, next)).catch(() => undefined);
    if (!st) {
      const inRoot = posix.join(next, ...rest);
      return { inRoot, host: join(root, inRoot), exists: false };
    }
    if (st.isSymbolicLink()) {
      if (++links > maxLinks) return undefined;
      const target = await readlink(join(root, next));
      pending = [...posix.normalize(target.startsWith('/') ? target : posix.join(done, target)).split('/').filter(Boolean), ...rest];
      done = '/';
      continue;
    }
    done = next;
    pending = rest;
  }
  return { inRoot: done, host: join(root, done), exists: true };
}
