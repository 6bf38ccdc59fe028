/**
 * Test fixtures for kernels: a hand-written /lib/modules/<version> tree that never reads the host.
 * Real kernels (installed or fetched) come from test/helpers/kernels.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ModulesFixture {
  /** Module paths (relative to the modules dir) -> the paths they depend on. */
  dep: Record<string, string[]>;
  builtin?: string[];
  alias?: string[];
  softdep?: string[];
  /** Contents of the module files; paths not listed get a small placeholder. */
  content?: Record<string, Buffer>;
  /** Written to <root>/boot/config-<version>, where checkKernelFeatures looks by default. */
  config?: string;
}

const fixtureRoots: string[] = [];

/** Builds <tmp>/lib/modules/<version>; returns that modules dir. */
export async function makeModulesDir(version: string, f: ModulesFixture): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'flashroot-kmod-'));
  fixtureRoots.push(root);
  const dir = join(root, 'lib', 'modules', version);
  await mkdir(dir, { recursive: true });
  const depText = Object.entries(f.dep).map(([p, deps]) => `${p}:${deps.map((d) => ` ${d}`).join('')}\n`).join('');
  await writeFile(join(dir, 'modules.dep'), depText);
  await writeFile(join(dir, 'modules.builtin'), (f.builtin ?? []).map((b) => `${b}\n`).join(''));
  await writeFile(join(dir, 'modules.alias'), (f.alias ?? []).map((a) => `${a}\n`).join(''));
  await writeFile(join(dir, 'modules.softdep'), (f.softdep ?? []).map((s) => `${s}\n`).join(''));
  await writeFile(join(dir, 'modules.order'), Object.keys(f.dep).map((p) => `${p}\n`).join(''));
  for (const p of Object.keys(f.dep)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), f.content?.[p] ?? Buffer.from(`placeholder for ${p}\n`));
  }
  if (f.config !== undefined) {
    await mkdir(join(root, 'boot'), { recursive: true });
    await writeFile(join(root, 'boot', `config-${version}`), f.config);
  }
  return dir;
}

export async function removeModulesDirs(): Promise<void> {
  await Promise.all(fixtureRoots.splice(0).map((r) => rm(r, { recursive: true, force: true })));
}

/** A minimal image: boot sector + setup header with the HdrS magic and a version pointer. */
export function fakeBzImage(version: string, pointer = 0x3000): Buffer {
  const img = Buffer.alloc(pointer + 0x200 + 64);
  img.write('HdrS', 0x202, 'latin1');
  img.writeUInt16LE(pointer, 0x20e);
  img.write(`${version} (someone@example.org) #1 SMP\0`, pointer + 0x200, 'latin1');
  return img;
}
