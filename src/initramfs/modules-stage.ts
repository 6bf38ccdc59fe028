/**
 * Writes resolved modules into a staging tree (the future initramfs root): module files as plain
 * .ko and the filtered database next to them. Decompressing here rather than at boot is required for
 * zstd (busybox 1.35 cannot read it) and costs nothing for xz/gzip: the initramfs is compressed as a
 * whole, and plain modules compress better inside it than already-compressed ones.
 */
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { run } from '../util/run.js';
import { preflight } from '../util/tools.js';
import type { ModuleCompression, ModuleFile, ResolvedModules } from './modules.js';

const TOOL_FOR: Partial<Record<ModuleCompression, string>> = { xz: 'xz', zstd: 'zstd' };

async function writeModule(file: ModuleFile, destPath: string): Promise<void> {
  await mkdir(dirname(destPath), { recursive: true });
  switch (file.decompress) {
    case undefined:
      await copyFile(file.src, destPath);
      return;
    case 'gzip':
      await writeFile(destPath, await promisify(gunzip)(await readFile(file.src)));
      return;
    case 'zstd':
      await run('zstd', ['-d', '-q', '-f', '-o', destPath, file.src]);
      return;
    case 'xz':
      // xz cannot name its output file; decompress a copy in place (x.ko.xz -> x.ko).
      await copyFile(file.src, `${destPath}.xz`);
      await run('xz', ['-d', '-f', '-q', `${destPath}.xz`]);
      return;
  }
}

/** Returns the bytes of module files written (uncompressed). */
export async function stageModules(resolved: ResolvedModules, rootDir: string): Promise<{ bytes: number }> {
  const tools = [...new Set(resolved.files.map((f) => (f.decompress ? TOOL_FOR[f.decompress] : undefined)))];
  await preflight(tools.filter((t): t is string => t !== undefined));
  let bytes = 0;
  for (const file of resolved.files) {
    const destPath = join(rootDir, file.dest);
    await writeModule(file, destPath);
    bytes += (await stat(destPath)).size;
  }
  const dbDir = join(rootDir, 'lib', 'modules', resolved.kernelVersion);
  await mkdir(dbDir, { recursive: true });
  for (const [name, text] of Object.entries(resolved.moduleDb)) await writeFile(join(dbDir, name), text);
  return { bytes };
}
