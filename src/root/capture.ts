/**
 * Checks a root filesystem before any work and decides what mksquashfs leaves out: the kernel's
 * pseudo filesystems and volatile directories, every filesystem mounted below the root unless
 * --include-mount names it (their mount points kept as empty directories, which mksquashfs
 * -one-file-system would drop), and the build's own output when it lies inside the root.
 */
import { lstat, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { contentsOf, globEscape } from './glob.js';

/** Emptied but kept, so the booted system finds its mount points. */
export const VOLATILE_DIRS = ['proc', 'sys', 'dev', 'run', 'tmp'] as const;

/** Follows symlinks the way the booted system will: absolute targets resolve inside the root. */
export async function resolveInRoot(root: string, path: string, hops = 40): Promise<string | undefined> {
  let current = posix.normalize(`/${path}`);
  for (let i = 0; i < hops; i++) {
    const host = join(root, current);
    let st;
    try {
      st = await lstat(host);
    } catch {
      return undefined;
    }
    if (!st.isSymbolicLink()) return host;
    const target = await readlink(host);
    current = posix.normalize(target.startsWith('/') ? target : posix.join(posix.dirname(current), target));
  }
  return undefined;
}

/** Mount points from /proc/self/mountinfo (field 5, octal escapes such as \040 for a space). */
export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => Boolean(p))
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))));
}

async function mountedBelow(root: string): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return parseMountPoints(mountinfo)
    .map((p) => relative(root, p))
    .filter((rel) => rel && !rel.startsWith('..') && !isAbsolute(rel));
}

export interface CapturedRoot {
  dir: string;
  init: string;
  excludes: string[];
  /** Directories (relative to the root) whose contents are left out: volatile ones and other filesystems. */
  notCaptured: string[];
  /** Filesystems below the root captured on request (--include-mount), relative. */
  includedMounts: string[];
  /** The root is this running system's `/`, whose /proc describes it. */
  isHostRoot: boolean;
}

/** --include-mount names a mount point as the booted system sees it (`/home`), which must be mounted now. */
function includedMounts(requested: readonly string[], mounts: readonly string[], dir: string): string[] {
  return requested.map((p) => {
    const rel = posix.normalize(p).replace(/^\/+|\/+$/g, '');
    const volatile = (VOLATILE_DIRS as readonly string[]).some((d) => rel === d || rel.startsWith(`${d}/`));
    if (!mounts.includes(rel) || volatile) {
      const below = mounts.filter((m) => !(VOLATILE_DIRS as readonly string[]).some((d) => m === d || m.startsWith(`${d}/`)));
      throw new InputError(
        p,
        `--include-mount ${p}: no filesystem is mounted at ${p} inside the root ${dir}${volatile ? ' that could be captured (it is a volatile directory)' : ''}`,
        below.length
          ? `give the mount point as the booted system sees it; mounted below the root now: ${below.slice(0, 12).map((m) => `/${m}`).join(' ')}`
          : 'mount the filesystem below the root first, or leave --include-mount out',
      );
    }
    return rel;
  });
}

export async function captureRoot(dir: string, init: string, outputs: readonly string[], includeMounts: readonly string[] = []): Promise<CapturedRoot> {
  const root = resolve(dir);
  let st;
  try {
    st = await stat(root);
  } catch {
    throw new InputError(root, `root '${dir}' does not exist`, 'give --root an existing directory holding a Linux root filesystem, or --demo');
  }
  if (!st.isDirectory()) throw new InputError(root, `root '${dir}' is not a directory`, 'give --root a directory');
  const initHost = await resolveInRoot(root, init);
  const initSt = initHost ? await stat(initHost).catch(() => undefined) : undefined;
  if (!initSt?.isFile() || (initSt.mode & 0o111) === 0) {
    throw new InputError(
      root,
      `root '${dir}' has no executable ${init}`,
      'the booted system would have nothing to run: point --root at a complete root filesystem, or name its init with --init PATH',
    );
  }
  const real = await realpath(root);
  const mounts = await mountedBelow(real);
  const included = includedMounts(includeMounts, mounts, dir);
  const notCaptured = [...new Set([...VOLATILE_DIRS, ...mounts.filter((m) => !included.includes(m))])].sort();
  // contentsOf: a plain `dir/*` would keep hidden entries (`tmp/.X11-unix`) in.
  const excludes = new Set<string>(notCaptured.flatMap(contentsOf));
  for (const out of outputs) {
    const rel = relative(real, resolve(out));
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) excludes.add(globEscape(rel));
  }
  return { dir: root, init, excludes: [...excludes].sort(), notCaptured, includedMounts: included, isHostRoot: real === '/' };
}
