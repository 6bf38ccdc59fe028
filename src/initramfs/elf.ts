/**
 * The files a set of binaries needs to run inside another root (the initramfs): each binary, its
 * program interpreter and every DT_NEEDED library, transitively, found the way ld.so finds them.
 * Every symlink met on the way (/lib -> usr/lib, libz.so.1 -> libz.so.1.2.13) is listed too, so
 * copying the list with lstat semantics rebuilds a tree where the same paths resolve.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InputError } from '../errors.js';
import { elf64Machine, readElfDynamicInfo } from './elf-header.js';

export interface ElfClosureOptions {
  /** The root the binaries and libraries live in; paths in and out are absolute inside it. Default '/'. */
  root?: string;
}

export interface ElfClosure {
  /** Absolute paths inside the root, sorted: real files and the symlinks leading to them. */
  files: string[];
}

/** glibc's trusted directories on x86-64 Debian, searched after ld.so.conf. */
const DEFAULT_LIBRARY_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/lib', '/usr/lib'];
const MAX_SYMLINKS = 40;

/**
 * Resolves a path inside root like the kernel would after chroot: absolute link targets restart at
 * root. Returns the real path, and every symlink passed through, or undefined if it does not exist.
 */
async function resolveInRoot(root: string, path: string, links: string[]): Promise<string | undefined> {
  let pending = path.split('/').filter(Boolean);
  let current = '/';
  for (let hops = 0; pending.length > 0; ) {
    const part = pending.shift() ?? '';
    if (part === '.') continue;
    if (part === '..') {
      current = posix.dirname(current);
      continue;
    }
    const candidate = posix.join(current, part);
    let isLink: boolean;
    try {
      isLink = (await lstat(join(root, candidate))).isSymbolicLink();
    } catch {
      return undefined;
    }
    if (!isLink) {
      current = candidate;
      continue;
    }
    if (++hops > MAX_SYMLINKS) throw new InputError(candidate, `Too many levels of symbolic links at ${candidate} in ${root}.`, 'Fix the symlink loop in the root.');
    links.push(candidate);
    const target = await readlink(join(root, candidate));
    pending = [...target.split('/').filter(Boolean), ...pending];
    if (target.startsWith('/')) current = '/';
  }
  return current;
}

/** Directories from /etc/ld.so.conf.d/*.conf, in the order ld.so.conf's include glob reads them. */
async function ldSoConfDirs(root: string): Promise<string[]> {
  const confDir = join(root, 'etc', 'ld.so.conf.d');
  let names: string[];
  try {
    names = (await readdir(confDir)).filter((n) => n.endsWith('.conf')).sort();
  } catch {
    return [];
  }
  const texts = await Promise.all(names.map((n) => readFile(join(confDir, n), 'utf8').catch(() => '')));
  return texts.flatMap((t) => t.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l.startsWith('/')));
}

function expandOrigin(dirs: string[], objectPath: string): string[] {
  return dirs.map((d) => d.replace(/\$(ORIGIN|\{ORIGIN\})/g, posix.dirname(objectPath)));
}

export async function elfClosure(binaries: readonly string[], opts: ElfClosureOptions = {}): Promise<ElfClosure> {
  const root = opts.root ?? '/';
  const systemDirs = [...(await ldSoConfDirs(root)), ...DEFAULT_LIBRARY_DIRS];
  const files = new Set<string>();
  const visited = new Set<string>();

  /** Adds a path (and its symlinks) to the result; returns its real path. */
  const include = async (path: string, neededBy: string): Promise<string> => {
    const links: string[] = [];
    const real = await resolveInRoot(root, path, links);
    if (real === undefined) throw new InputError(path, `${path} (needed by ${neededBy}) does not exist in ${root}.`, 'Install the package that provides it in that root.');
    links.forEach((l) => files.add(l));
    files.add(real);
    return real;
  };

  const findLibrary = async (name: string, object: string, ownDirs: string[], machine: number): Promise<string> => {
    if (name.includes('/')) return name;
    for (const dir of [...ownDirs, ...systemDirs]) {
      const candidate = posix.join(dir, name);
      const real = await resolveInRoot(root, candidate, []);
      // Skip libraries of another architecture (an i386 libc in /lib, say), as ld.so does.
      if (real !== undefined && (await elf64Machine(join(root, real))) === machine) return candidate;
    }
    throw new InputError(name, `Library ${name} needed by ${object} was not found in ${root}.`, `Install the package that provides ${name} (searched: ${[...ownDirs, ...systemDirs].join(' ')}).`);
  };

  /**
   * ld.so's order: an object with DT_RUNPATH searches only that; one without searches its DT_RPATH,
   * then the DT_RPATH of each object that loaded it up to the executable. Then ld.so.conf and trusted dirs.
   */
  const visit = async (path: string, neededBy: string, loaderRpath: string[]): Promise<void> => {
    const real = await include(path, neededBy);
    if (visited.has(real)) return;
    visited.add(real);
    const info = await readElfDynamicInfo(join(root, real));
    if (info.interpreter) await include(info.interpreter, path);
    const hasRunpath = info.runpath.length > 0;
    const chainRpath = hasRunpath ? loaderRpath : [...expandOrigin(info.rpath, path), ...loaderRpath];
    const ownDirs = hasRunpath ? expandOrigin(info.runpath, path) : chainRpath;
    for (const name of info.needed) await visit(await findLibrary(name, path, ownDirs, info.machine), path, chainRpath);
  };

  for (const binary of binaries) await visit(binary, 'the initramfs', []);
  return { files: [...files].sort() };
}

