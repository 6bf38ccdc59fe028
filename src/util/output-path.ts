/**
 * Whether a file we are about to create can be created, asked before any work: a build that ends
 * in EISDIR or EROFS after minutes of compressing has wasted the minutes, and renaming onto a
 * directory (`--out /`) leaves its `.partial` in the directory's parent first.
 */
import { access, constants, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export interface OutputFile {
  /** A file name to suggest inside a directory given by mistake. */
  example: string;
  /** The writer creates missing parent directories (the build does; a plain writeFile does not). */
  createsParents?: boolean;
}

/** What is wrong with `path` as a file to write, in words after `flag: `; undefined when it is fine. */
export async function outputFileProblem(path: string, o: OutputFile): Promise<string | undefined> {
  if (path === '' || path.endsWith('/')) return `'${path}' names a directory; give a file name, e.g. ${path || './'}${o.example}`;
  const full = resolve(path);
  const st = await stat(full).catch(() => undefined);
  if (st?.isDirectory()) return `'${path}' is a directory; give a file name inside it, e.g. ${full.replace(/\/?$/, '/')}${o.example}`;
  if (st && !st.isFile()) return `'${path}' exists and is not a regular file (${kindOf(st)}); this writes a file (flash a drive with flashroot write)`;
  // The directories to create do not exist yet: the nearest one that does decides.
  let dir = dirname(full);
  for (;;) {
    const d = await stat(dir).catch(() => undefined);
    if (d && !d.isDirectory()) return `'${dir}' is not a directory, so '${path}' cannot be created`;
    if (d) break;
    if (!o.createsParents) return `'${dir}' does not exist`;
    dir = dirname(dir);
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EROFS' ? `'${dir}' is on a read-only filesystem` : `cannot write in '${dir}' (${code ?? 'denied'})`;
  }
  return undefined;
}

function kindOf(st: { isBlockDevice(): boolean; isCharacterDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (st.isBlockDevice()) return 'a block device';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isFIFO()) return 'a FIFO';
  return st.isSocket() ? 'a socket' : 'not a file';
}
