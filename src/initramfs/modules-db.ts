/**
 * The kernel's own module database (/lib/modules/<version>/modules.*), parsed into lookups. Every
 * decision about which module files to carry comes from these files, never from a list of paths.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KernelError } from '../errors.js';

/** Module names are spelled with '-' or '_' interchangeably (usb-storage = usb_storage). */
export function normaliseModuleName(name: string): string {
  return name.replaceAll('-', '_');
}

/** kernel/fs/nls/nls_iso8859-1.ko.xz -> nls_iso8859_1 */
export function moduleNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return normaliseModuleName(base.replace(/\.ko(\.\w+)?$/, ''));
}

export interface SoftDeps {
  pre: string[];
  post: string[];
}

export interface ModuleAlias {
  pattern: string;
  module: string;
  line: string;
}

export interface ModuleDb {
  dir: string;
  /** Module name -> its file, relative to dir, exactly as modules.dep spells it. */
  paths: Map<string, string>;
  /** Module name -> the names of the modules it needs (modules.dep already lists them transitively). */
  deps: Map<string, string[]>;
  builtin: Set<string>;
  aliases: ModuleAlias[];
  /** Aliases of built-in modules (from modules.builtin.modinfo): fs-vfat is satisfied if vfat is built in. */
  builtinAliases: ModuleAlias[];
  softdeps: Map<string, SoftDeps>;
  softdepLines: Map<string, string>;
  /** Relative paths in the order the kernel build lists them (modules.order). */
  order: string[];
  builtinText: string;
}

/** Length of a '[...]' class starting at pattern[i], or 0 if the '[' has no closing ']'. */
function classLength(pattern: string, i: number): number {
  const end = pattern.indexOf(']', i + 2);
  return end < 0 ? 0 : end - i + 1;
}

function classMatches(cls: string, c: string): boolean {
  const negated = cls.startsWith('!') || cls.startsWith('^');
  const body = negated ? cls.slice(1) : cls;
  let hit = false;
  for (let k = 0; k < body.length; k++) {
    const lo = body.charAt(k);
    if (body.charAt(k + 1) === '-' && k + 2 < body.length) {
      hit ||= c >= lo && c <= body.charAt(k + 2);
      k += 2;
    } else hit ||= c === lo;
  }
  return hit !== negated;
}

/**
 * fnmatch(3) as modprobe applies it to alias patterns: '*', '?' and '[...]'. Hand-written because
 * compiling the ~26,000 patterns of modules.alias into RegExps takes over a second.
 */
export function fnmatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const pc = pattern.charAt(p);
    const len = pc === '[' ? classLength(pattern, p) : 0;
    if (pc === '*') {
      starP = p++;
      starT = t;
      continue;
    }
    const matched = len > 0 ? classMatches(pattern.slice(p + 1, p + len - 1), text.charAt(t)) : p < pattern.length && (pc === '?' || pc === text.charAt(t));
    if (matched) {
      p += len > 0 ? len : 1;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else return false;
  }
  while (pattern.charAt(p) === '*') p++;
  return p === pattern.length;
}

/** The depmod command that writes modules.dep for <root>/lib/modules/<version>. */
export function depmodCommand(dir: string): string {
  const m = /^(.*)\/lib\/modules\/([^/]+)$/.exec(dir);
  if (!m) return 'depmod -b <root> <version>';
  return m[1] ? `depmod -b ${m[1]} ${m[2]}` : `depmod ${m[2]}`;
}

async function readDbFile(dir: string, name: string, required: boolean): Promise<string> {
  try {
    return await readFile(join(dir, name), 'utf8');
  } catch (e) {
    if (!required) return '';
    // Kernel packages do not ship modules.dep: their postinst runs depmod. An unpacked package needs it run.
    throw new KernelError(
      `Cannot read ${join(dir, name)}: ${(e as Error).message}.`,
      `Point at /lib/modules/<version> of an installed kernel (apt-get install linux-image-amd64); for an unpacked kernel package run: ${depmodCommand(dir)}`,
    );
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

function parseDep(text: string, db: ModuleDb): void {
  for (const line of lines(text)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const name = moduleNameFromPath(path);
    db.paths.set(name, path);
    db.deps.set(name, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleNameFromPath));
  }
}

function parseAliases(text: string): ModuleAlias[] {
  const out: ModuleAlias[] = [];
  for (const line of lines(text)) {
    const [keyword, pattern, module] = line.trim().split(/\s+/);
    if (keyword !== 'alias' || !pattern || !module) continue;
    out.push({ pattern, module: normaliseModuleName(module), line });
  }
  return out;
}

/** modules.builtin.modinfo is NUL-separated "module.key=value" records; only aliases matter here. */
function parseBuiltinModinfoAliases(text: string): ModuleAlias[] {
  const out: ModuleAlias[] = [];
  for (const record of text.split('\0')) {
    const m = /^([^.]+)\.alias=(.+)$/.exec(record);
    if (m?.[1] && m[2]) out.push({ pattern: m[2], module: normaliseModuleName(m[1]), line: record });
  }
  return out;
}

/** "softdep ext4 pre: crc32c post: foo" */
function parseSoftdeps(text: string, db: ModuleDb): void {
  for (const line of lines(text)) {
    const [keyword, module, ...rest] = line.trim().split(/\s+/);
    if (keyword !== 'softdep' || !module) continue;
    const name = normaliseModuleName(module);
    const entry: SoftDeps = db.softdeps.get(name) ?? { pre: [], post: [] };
    let list: string[] | undefined;
    for (const word of rest) {
      if (word === 'pre:') list = entry.pre;
      else if (word === 'post:') list = entry.post;
      else list?.push(word);
    }
    db.softdeps.set(name, entry);
    db.softdepLines.set(name, [db.softdepLines.get(name), line].filter(Boolean).join('\n'));
  }
}

export async function loadModuleDb(modulesDir: string): Promise<ModuleDb> {
  const dir = modulesDir.replace(/\/+$/, '');
  const db: ModuleDb = {
    dir,
    paths: new Map(),
    deps: new Map(),
    builtin: new Set(),
    aliases: [],
    builtinAliases: [],
    softdeps: new Map(),
    softdepLines: new Map(),
    order: [],
    builtinText: '',
  };
  const [dep, alias, softdep, builtin, builtinModinfo, order] = await Promise.all([
    readDbFile(dir, 'modules.dep', true),
    readDbFile(dir, 'modules.alias', false),
    readDbFile(dir, 'modules.softdep', false),
    readDbFile(dir, 'modules.builtin', false),
    readDbFile(dir, 'modules.builtin.modinfo', false),
    readDbFile(dir, 'modules.order', false),
  ]);
  parseDep(dep, db);
  db.aliases = parseAliases(alias);
  db.builtinAliases = parseBuiltinModinfoAliases(builtinModinfo);
  parseSoftdeps(softdep, db);
  for (const line of lines(builtin)) db.builtin.add(moduleNameFromPath(line.trim()));
  db.builtinText = builtin;
  db.order = lines(order).map((l) => l.trim());
  return db;
}

/** Modules an alias (fs-vfat, pci:v...) resolves to; built-in modules are reported separately. */
export function lookupAlias(db: ModuleDb, alias: string): { modules: string[]; builtin: string[] } {
  const matching = (list: ModuleAlias[]) => [...new Set(list.filter((a) => fnmatch(a.pattern, alias)).map((a) => a.module))];
  return { modules: matching(db.aliases).filter((m) => db.paths.has(m)), builtin: matching(db.builtinAliases) };
}
