/**
 * Files the squashfs holds that the source does not (or holds differently), as mksquashfs pseudo
 * file definitions (-pf, squashfs-tools 4.5). This is how the stick's root differs from its source
 * without the source being written: the source may be the running `/`.
 *
 * mksquashfs ignores a pseudo file whose path exists in the source ("exclude it to override"), so
 * every replaced path must also be excluded; `replacedPaths` gives those. Times come from
 * -all-time under --reproducible like every other inode's.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

interface Owner {
  /** Permission bits, e.g. 0o644. */
  mode: number;
  uid: number;
  gid: number;
}

export type PseudoFile =
  | ({ kind: 'file'; path: string; content: string; replaces: boolean } & Owner)
  | ({ kind: 'dir'; path: string } & Owner);

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/** mksquashfs reads a pseudo file's name up to the first space; ours are fixed names under /etc. */
function checkedName(path: string): string {
  const rel = path.replace(/^\/+/, '');
  if (!/^[\w@.+/-]+$/.test(rel)) throw new Error(`pseudo file name needs no quoting: ${path}`);
  return rel;
}

/** The -pf text; each file's content is stored as `dataDir/N` and read back by the `f` definition's command. */
export function pseudoDefinitions(files: readonly PseudoFile[], dataDir: string): { text: string; data: { path: string; content: string }[] } {
  const data: { path: string; content: string }[] = [];
  const lines = files.map((f) => {
    const head = `${checkedName(f.path)} ${f.kind === 'dir' ? 'd' : 'f'} ${f.mode.toString(8).padStart(4, '0')} ${f.uid} ${f.gid}`;
    if (f.kind === 'dir') return head;
    const path = join(dataDir, String(data.length));
    data.push({ path, content: f.content });
    // mksquashfs runs the command with /bin/sh -c; `cat` keeps the bytes exactly.
    return `${head} cat ${shellQuote(path)}`;
  });
  return { text: lines.length ? `${lines.join('\n')}\n` : '', data };
}

/** Writes the definitions and their contents into `dir`; returns the -pf file's path. */
export async function writePseudoFile(files: readonly PseudoFile[], dir: string): Promise<string> {
  const { text, data } = pseudoDefinitions(files, dir);
  for (const d of data) await writeFile(d.path, d.content);
  const pf = join(dir, 'pseudo-files');
  await writeFile(pf, text);
  return pf;
}

export function replacedPaths(files: readonly PseudoFile[]): string[] {
  return files.filter((f) => f.kind === 'file' && f.replaces).map((f) => f.path.replace(/^\/+/, ''));
}
