/** Reads a staged directory tree into cpio entries (modes kept, owners and times normalised). */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { CpioEntry } from './cpio.js';

export async function entriesFromDir(dir: string): Promise<CpioEntry[]> {
  const out: CpioEntry[] = [];
  const walk = async (abs: string): Promise<void> => {
    for (const name of (await readdir(abs)).sort()) {
      const p = join(abs, name);
      const path = relative(dir, p);
      const st = await lstat(p);
      if (st.isSymbolicLink()) out.push({ kind: 'symlink', path, target: await readlink(p) });
      else if (st.isDirectory()) {
        out.push({ kind: 'dir', path, mode: st.mode & 0o7777 });
        await walk(p);
      } else if (st.isFile()) out.push({ kind: 'file', path, data: await readFile(p), mode: st.mode & 0o7777 });
    }
  };
  await walk(dir);
  return out;
}
