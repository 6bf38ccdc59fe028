/**
 * Which kernel module files an initramfs must carry: the requested modules plus everything
 * modules.dep and modules.softdep say they need, with a filtered module database that lets busybox
 * `modprobe <name>` and `modprobe <modalias>` work inside the initramfs.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { KernelError } from '../errors.js';
import { MODULE_GROUPS, type ModuleGroupName } from './module-groups.js';
import { depmodCommand, loadModuleDb, lookupAlias, moduleNameFromPath, normaliseModuleName, type ModuleDb } from './modules-db.js';

export type ModuleCompression = 'xz' | 'zstd' | 'gzip';

export interface ModuleRequest {
  /** Named groups from MODULE_GROUPS; a required group's missing module is fatal. */
  groups?: readonly ModuleGroupName[];
  /** Module names, '-' or '_' alike (usb-storage, usb_storage); missing ones are reported, not fatal. */
  names?: readonly string[];
  /** Aliases as modprobe takes them (fs-vfat, pci:v00008086d...); missing ones are reported, not fatal. */
  aliases?: readonly string[];
  /** Every module whose path (relative to the modules dir) starts with one of `include` and none of `except`: driver classes. */
  paths?: { include: readonly string[]; except: readonly string[] };
}

export interface ModuleFile {
  /** Absolute path of the module as the kernel package ships it (maybe compressed). */
  src: string;
  /** Path inside the initramfs, always an uncompressed .ko: busybox 1.35 modprobe cannot read .ko.zst. */
  dest: string;
  decompress?: ModuleCompression;
}

/** The filtered database files to write to lib/modules/<version>/ next to the modules. */
export type ModuleDbFiles = Record<'modules.dep' | 'modules.alias' | 'modules.softdep' | 'modules.builtin' | 'modules.order', string>;

export interface ResolvedModules {
  kernelVersion: string;
  files: ModuleFile[];
  /**
   * Every included module, each after its dependencies and pre-softdeps and before its post-softdeps.
   * Busybox modprobe ignores softdeps, so the init should modprobe this list in order.
   */
  loadOrder: string[];
  /** Requested names or aliases this kernel has neither as a module nor built in. */
  missing: string[];
  /** Requested modules that are built into the kernel: satisfied without files. */
  builtin: string[];
  moduleDb: ModuleDbFiles;
  /** Bytes of the module files as shipped (compressed ones count compressed). */
  totalBytes: number;
}

const COMPRESSION_SUFFIX: Record<string, ModuleCompression> = { '.xz': 'xz', '.zst': 'zstd', '.gz': 'gzip' };

function compressionOf(path: string): ModuleCompression | undefined {
  const m = /\.ko(\.\w+)$/.exec(path);
  return m?.[1] === undefined ? undefined : COMPRESSION_SUFFIX[m[1]];
}

/** x.ko.xz -> x.ko: where a module is staged once decompressed. */
export function uncompressedPath(path: string): string {
  return path.replace(/\.ko\.\w+$/, '.ko');
}

type Resolution = { kind: 'modules'; modules: string[] } | { kind: 'builtin'; names: string[] } | { kind: 'missing' };

/** A word modprobe would accept: a module name, a built-in module, or an alias of either. */
function resolveWord(db: ModuleDb, word: string): Resolution {
  const name = normaliseModuleName(word);
  if (db.paths.has(name)) return { kind: 'modules', modules: [name] };
  if (db.builtin.has(name)) return { kind: 'builtin', names: [name] };
  const viaAlias = lookupAlias(db, word);
  if (viaAlias.modules.length > 0) return { kind: 'modules', modules: viaAlias.modules };
  if (viaAlias.builtin.length > 0) return { kind: 'builtin', names: viaAlias.builtin };
  return { kind: 'missing' };
}

class Closure {
  readonly loadOrder: string[] = [];
  private readonly seen = new Set<string>();
  constructor(private readonly db: ModuleDb) {}

  add(name: string): void {
    if (this.seen.has(name)) return;
    this.seen.add(name);
    const soft = this.db.softdeps.get(name);
    // Softdeps are optional by definition (often crypto drivers that may be built in): add what exists.
    for (const word of soft?.pre ?? []) this.addWord(word);
    for (const dep of this.db.deps.get(name) ?? []) this.add(dep);
    this.loadOrder.push(name);
    for (const word of soft?.post ?? []) this.addWord(word);
  }

  private addWord(word: string): void {
    const r = resolveWord(this.db, word);
    if (r.kind === 'modules') r.modules.forEach((m) => this.add(m));
  }
}

function wantedWords(req: ModuleRequest): { word: string; required: boolean }[] {
  const fromGroups = (req.groups ?? []).flatMap((g) => MODULE_GROUPS[g].modules.map((word) => ({ word, required: MODULE_GROUPS[g].required })));
  const optional = [...(req.names ?? []), ...(req.aliases ?? [])].map((word) => ({ word, required: false }));
  return [...fromGroups, ...optional];
}

function filteredDb(db: ModuleDb, included: ReadonlySet<string>): ModuleDbFiles {
  const pathOf = (name: string) => uncompressedPath(db.paths.get(name) ?? name);
  const text = (ls: string[]) => (ls.length ? `${ls.join('\n')}\n` : '');
  const dep = [...db.paths.keys()]
    .filter((n) => included.has(n))
    .map((n) => `${pathOf(n)}:${(db.deps.get(n) ?? []).map((d) => ` ${pathOf(d)}`).join('')}`);
  return {
    'modules.dep': text(dep),
    'modules.alias': text(db.aliases.filter((a) => included.has(a.module)).map((a) => a.line)),
    'modules.softdep': text([...db.softdepLines].filter(([n]) => included.has(n)).map(([, l]) => l)),
    // Kept whole: it lets `modprobe <builtin>` succeed quietly instead of failing "not found".
    'modules.builtin': db.builtinText,
    'modules.order': text(db.order.filter((p) => included.has(moduleNameFromPath(p))).map(uncompressedPath)),
  };
}

export async function moduleFile(db: ModuleDb, kernelVersion: string, name: string): Promise<{ file: ModuleFile; bytes: number }> {
  const rel = db.paths.get(name);
  const broken = (what: string) => new KernelError(`modules.dep ${what}.`, `The module tree is inconsistent: reinstall the kernel package, or run ${depmodCommand(db.dir)}`);
  if (rel === undefined) throw broken(`lists ${name} as a dependency but has no line for it`);
  const src = `${db.dir}/${rel}`;
  const bytes = await stat(src).then((st) => (st.isFile() ? st.size : undefined), () => undefined);
  if (bytes === undefined) throw broken(`names ${rel}, but ${src} is not a file`);
  const decompress = compressionOf(rel);
  const dest = `lib/modules/${kernelVersion}/${uncompressedPath(rel)}`;
  return { file: decompress ? { src, dest, decompress } : { src, dest }, bytes };
}

export async function resolveModules(modulesDir: string, req: ModuleRequest): Promise<ResolvedModules> {
  const db = await loadModuleDb(modulesDir);
  const dir = db.dir;
  const kernelVersion = basename(dir);
  const closure = new Closure(db);
  const missing = new Set<string>();
  const builtin = new Set<string>();
  const fatal: string[] = [];
  for (const { word, required } of wantedWords(req)) {
    const r = resolveWord(db, word);
    if (r.kind === 'modules') r.modules.forEach((m) => closure.add(m));
    else if (r.kind === 'builtin') r.names.forEach((n) => builtin.add(n));
    else {
      missing.add(word);
      if (required) fatal.push(word);
    }
  }
  if (fatal.length > 0) {
    throw new KernelError(
      `Kernel ${kernelVersion} has no ${fatal.join(', ')}: neither a module in ${dir} nor built in.`,
      `Use a kernel built with these (Debian linux-image-amd64 has them as modules), or run ${depmodCommand(dir)} if their files exist.`,
    );
  }
  for (const [name, path] of db.paths) {
    const { include = [], except = [] } = req.paths ?? {};
    if (include.some((p) => path.startsWith(p)) && !except.some((p) => path.startsWith(p))) closure.add(name);
  }
  const included = new Set(closure.loadOrder);
  const entries = await Promise.all([...included].sort().map((n) => moduleFile(db, kernelVersion, n)));
  return {
    kernelVersion,
    files: entries.map((e) => e.file),
    loadOrder: closure.loadOrder,
    missing: [...missing],
    builtin: [...builtin],
    moduleDb: filteredDb(db, included),
    totalBytes: entries.reduce((sum, e) => sum + e.bytes, 0),
  };
}
