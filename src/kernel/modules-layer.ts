/**
 * The kernel's modules as a layer of their own, for a root that has none for the stick's kernel
 * (the demo root, a container-made root): a second squashfs on the stick that the init stacks under
 * the root in the overlay, so the booted system's modprobe finds every module of the kernel it runs.
 * A layer rather than a merge into the root image: mksquashfs cannot graft a tree into a
 * subdirectory of an image, so merging would mean copying the whole root first (or an overlay
 * mount, which needs privileges), and the source must stay untouched.
 */
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadModuleDb } from '../initramfs/modules-db.js';
import { moduleFile, uncompressedPath, type ModuleCompression } from '../initramfs/modules.js';
import { pathInRoot } from '../root/in-root.js';
import { makeSquashfs, type SquashfsOptions } from '../squashfs/mksquashfs.js';
import { cacheDir } from '../util/cache.js';
import { run } from '../util/run.js';
import { preflight } from '../util/tools.js';

export interface ModulesLayerPlan {
  /** Where the modules go in the booted root, following its own /lib (e.g. /usr/lib/modules/V on usrmerge roots). */
  dest: string;
}

/**
 * undefined when the root already has the kernel's modules (with their modules.dep). Otherwise the
 * layer's modules go where the root's own /lib leads: a plain lib/ directory in an upper layer
 * would hide a lower layer's lib -> usr/lib symlink target, and vice versa.
 */
export async function planModulesLayer(rootDir: string, version: string): Promise<ModulesLayerPlan | undefined> {
  const where = await pathInRoot(rootDir, `/lib/modules/${version}`);
  if (!where) return { dest: `/lib/modules/${version}` };
  const hasDep = where.exists && (await stat(join(where.host, 'modules.dep')).then((s) => s.isFile(), () => false));
  return hasDep ? undefined : { dest: where.inRoot };
}

/** Runs f over items, `width` at a time: thousands of small file operations, without thousands of open files. */
async function inBatches<T, R>(items: readonly T[], width: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(f))));
  return out;
}

/** One decompressor run per few hundred files: Debian 6.12 ships 4,228 .ko.xz, and a process each took minutes. */
const DECOMPRESS: Record<ModuleCompression, { tool: string; args: string[] }> = {
  xz: { tool: 'xz', args: ['-d', '-f', '-q'] },
  zstd: { tool: 'zstd', args: ['-d', '-f', '-q', '--rm'] },
  gzip: { tool: 'gzip', args: ['-d', '-f', '-q'] },
};

async function decompressInPlace(files: readonly { kind: ModuleCompression; path: string }[]): Promise<void> {
  const kinds = [...new Set(files.map((f) => f.kind))];
  await preflight(kinds.map((k) => DECOMPRESS[k].tool));
  for (const kind of kinds) {
    const paths = files.filter((f) => f.kind === kind).map((f) => f.path);
    for (let i = 0; i < paths.length; i += 256) await run(DECOMPRESS[kind].tool, [...DECOMPRESS[kind].args, ...paths.slice(i, i + 256)]);
  }
}

/** What the depmod in the stage needs besides the modules: the kernel's build-time lists. */
const DEPMOD_INPUTS = ['modules.builtin', 'modules.builtin.modinfo', 'modules.order'] as const;

export interface StagedLayer {
  modules: number;
  /** Bytes of the staged tree (modules uncompressed). */
  bytes: number;
}

/**
 * Stages every module of modulesDir under stage/<plan.dest>, decompressed (busybox modprobe, which
 * a root may well use, cannot read .ko.zst), and indexes them with depmod so both busybox's and
 * kmod's modprobe (which prefers modules.dep.bin) find them.
 */
export async function stageModulesLayer(modulesDir: string, version: string, plan: ModulesLayerPlan, stage: string): Promise<StagedLayer> {
  await preflight(['depmod']);
  const db = await loadModuleDb(modulesDir);
  // depmod wants BASE/lib/modules/V; the layer may want another place, so it runs beside the stage.
  const base = `${stage}.depmod`;
  const files = await inBatches([...db.paths.keys()], 32, async (name) => {
    const { file } = await moduleFile(db, version, name);
    // As shipped first: a hard link costs nothing and is never written through (decompressing
    // writes a new file and unlinks the link; depmod writes new index files).
    const shipped = join(base, file.dest + (file.decompress ? file.src.slice(file.src.lastIndexOf('.')) : ''));
    await mkdir(dirname(shipped), { recursive: true });
    await link(file.src, shipped).catch(() => copyFile(file.src, shipped));
    return { kind: file.decompress, shipped, dest: join(base, file.dest) };
  });
  await decompressInPlace(files.filter((f) => f.kind !== undefined).map((f) => ({ kind: f.kind as ModuleCompression, path: f.shipped })));
  const bytes = (await inBatches(files, 32, async (f) => (await stat(f.dest)).size)).reduce((a, b) => a + b, 0);
  const staged = join(base, 'lib/modules', version);
  for (const input of DEPMOD_INPUTS) {
    const text = await readFile(join(db.dir, input), 'utf8').catch(() => '');
    await writeFile(join(staged, input), input === 'modules.order' ? text.split('\n').map(uncompressedPath).join('\n') : text);
  }
  await run('depmod', ['-b', base, version]);
  const target = join(stage, plan.dest);
  await mkdir(dirname(target), { recursive: true });
  await rename(staged, target);
  await rm(base, { recursive: true, force: true });
  return { modules: db.paths.size, bytes };
}

const LAYER_LEVEL = 3;

export interface ModulesLayer {
  /** The squashfs in the work directory. */
  file: string;
  bytes: number;
  modules: number;
  unpackedBytes: number;
  dest: string;
}

/** Bumped whenever what goes into a layer changes, so older cached layers are never reused. */
const LAYER_FORMAT = 1;
/** Layers kept in the cache: one per kernel a user builds for, give or take. */
const CACHE_KEEP = 4;

type LayerSquashfs = Pick<SquashfsOptions, 'compressor' | 'epoch'>;
type CachedLayer = Omit<ModulesLayer, 'file'>;

/**
 * What the layer is made of, as a cache key: the modules directory (depmod rewrites modules.dep
 * whenever a kernel package installs or changes modules, so its identity stands for the tree), where
 * the modules go, and how the squashfs is made.
 */
export async function modulesLayerKey(modulesDir: string, version: string, plan: ModulesLayerPlan, squashfs: LayerSquashfs): Promise<string> {
  const stamps = await Promise.all(
    ['modules.dep', 'modules.order', 'modules.builtin'].map(async (n) => {
      const s = await stat(join(modulesDir, n)).catch(() => undefined);
      return s ? [n, s.size, s.mtimeMs, s.ino] : [n];
    }),
  );
  const what = { format: LAYER_FORMAT, dir: await realpath(modulesDir), version, dest: plan.dest, level: LAYER_LEVEL, ...squashfs, stamps };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 32);
}

async function fromCache(cache: string, key: string, file: string): Promise<CachedLayer | undefined> {
  const meta = await readFile(join(cache, `${key}.json`), 'utf8').then((t) => JSON.parse(t) as CachedLayer, () => undefined);
  if (!meta) return undefined;
  // A link keeps the layer whole even if another build prunes the cache meanwhile.
  const linked = await link(join(cache, `${key}.sqfs`), file).then(() => true, () => false);
  if (!linked && !(await copyFile(join(cache, `${key}.sqfs`), file).then(() => true, () => false))) return undefined;
  return meta;
}

/** Entries appear whole (metadata first, then the squashfs renamed in); the oldest beyond CACHE_KEEP go. */
async function toCache(cache: string, key: string, file: string, meta: CachedLayer): Promise<void> {
  await mkdir(cache, { recursive: true });
  const partial = join(cache, `.${key}.${process.pid}.partial`);
  await writeFile(join(cache, `${key}.json`), JSON.stringify(meta));
  await link(file, partial).catch(() => copyFile(file, partial));
  await rename(partial, join(cache, `${key}.sqfs`));
  const entries = await Promise.all(
    (await readdir(cache)).filter((n) => n.endsWith('.sqfs')).map(async (n) => ({ n, t: (await stat(join(cache, n))).mtimeMs })),
  );
  for (const { n } of entries.sort((a, b) => b.t - a.t).slice(CACHE_KEEP)) {
    await rm(join(cache, n), { force: true });
    await rm(join(cache, n.replace(/\.sqfs$/, '.json')), { force: true });
  }
}

/**
 * Stages and compresses the layer into work/modules.sqfs, the way the root's squashfs is made, or
 * takes it from the cache: the same kernel gives the same layer, and making it costs every build
 * several seconds (a minute for 6.12's .ko.xz).
 */
export async function buildModulesLayer(
  modulesDir: string,
  version: string,
  plan: ModulesLayerPlan,
  work: string,
  squashfs: LayerSquashfs,
  cache = cacheDir('modules-layers'),
): Promise<ModulesLayer> {
  const file = join(work, 'modules.sqfs');
  const key = await modulesLayerKey(modulesDir, version, plan, squashfs);
  const cached = await fromCache(cache, key, file);
  if (cached) return { file, ...cached };
  const stage = join(work, 'modules-layer');
  const staged = await stageModulesLayer(modulesDir, version, plan, stage);
  // Level 3 (zstd): 104 MB in 3.5 s for Debian 6.1's 396 MB of modules, against 89 MB in 196 s
  // at mksquashfs's default 15, measured on a loaded 2-core builder.
  await makeSquashfs({ ...squashfs, source: stage, output: file, excludes: [], allRoot: true, level: LAYER_LEVEL });
  await rm(stage, { recursive: true, force: true });
  const meta: CachedLayer = { bytes: (await stat(file)).size, modules: staged.modules, unpackedBytes: staged.bytes, dest: plan.dest };
  // A cache that cannot be written (read-only home) only costs the next build the time again.
  await toCache(cache, key, file, meta).catch(() => undefined);
  return { file, ...meta };
}
