/**
 * Debian trees made with mmdebstrap and cached under .cache/bench/ between runs: the minbase root the
 * build rows compress, and one chroot per competitor in which its initramfs generator runs. dracut and
 * live-boot are never installed on the host: dracut replaces initramfs-tools, and both hook into the
 * host's own initramfs generation.
 */
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlashrootError } from '../src/errors.js';
import type { Reporter } from '../src/util/log.js';
import { run, type RunOptions, type RunResult } from '../src/util/run.js';
import { preflight } from '../src/util/tools.js';

export const CACHE_DIR = fileURLToPath(new URL('../.cache/bench/', import.meta.url));
/** The host's Debian sources: the same (snapshot) archive, so chroots get the host's kernel build. */
const HOST_SOURCES = '/etc/apt/sources.list.d/debian.sources';
const SUITE = 'bookworm';
// A first mmdebstrap with a kernel and its postinst initramfs can take several minutes on 2 shared cores.
const MMDEBSTRAP_TIMEOUT_MS = 30 * 60_000;

export interface TreeSpec {
  /** Directory name under the cache. */
  name: string;
  /** Packages on top of minbase. */
  include: readonly string[];
  /** Run on the new tree before it enters the cache; `version` names what it does, for the stamp. */
  customize?: { version: string; apply: (dir: string) => Promise<void> };
}

/** Makes the tree once; a stamp next to it records what it was made with, so a changed spec remakes it. */
export async function debianTree(spec: TreeSpec, reporter: Reporter): Promise<string> {
  const dir = join(CACHE_DIR, spec.name);
  const stamp = `${dir}.stamp`;
  const want = JSON.stringify({ suite: SUITE, include: spec.include, customize: spec.customize?.version });
  if ((await readFile(stamp, 'utf8').catch(() => '')) === want) return dir;
  await preflight(['mmdebstrap']);
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
  // mmdebstrap resolves its target's parent first: on a fresh clone .cache/bench/ is not there yet.
  await mkdir(CACHE_DIR, { recursive: true });
  const mirror = (await access(HOST_SOURCES).then(() => true, () => false)) ? [HOST_SOURCES] : [];
  const include = spec.include.length ? [`--include=${spec.include.join(',')}`] : [];
  await reporter.step(`Making the Debian tree ${spec.name} (mmdebstrap, cached in ${CACHE_DIR})`, () =>
    run('mmdebstrap', ['--variant=minbase', ...include, SUITE, partial, ...mirror], { timeoutMs: MMDEBSTRAP_TIMEOUT_MS }),
  );
  await spec.customize?.apply(partial);
  await rename(partial, dir);
  await writeFile(stamp, want);
  return dir;
}

/**
 * Runs a command inside a chroot with /proc, /sys and /dev mounted (initramfs generators read the
 * module tree and device list), always unmounting them again.
 */
export async function runInChroot(dir: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const mounts: string[] = [];
  try {
    for (const [what, where, args] of [
      ['proc', 'proc', ['-t', 'proc']],
      ['sysfs', 'sys', ['-t', 'sysfs']],
      ['/dev', 'dev', ['--bind']],
    ] as const) {
      await run('mount', [...args, what, join(dir, where)]);
      mounts.unshift(join(dir, where));
    }
    return await run('chroot', [dir, ...argv], { ...opts, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', ...opts.env } });
  } finally {
    for (const m of mounts) {
      // A generator that left a process holding the mount must not keep the host's /dev bound forever.
      await run('umount', [m]).catch(() => run('umount', ['-l', m]));
    }
  }
}

/** The chroot must hold exactly the kernel we boot: same version, same bytes. */
export async function checkSameKernel(chroot: string, version: string, hostImage: string): Promise<void> {
  const inChroot = join(chroot, 'boot', `vmlinuz-${version}`);
  const [a, b] = await Promise.all([readFile(inChroot).catch(() => undefined), readFile(hostImage)]);
  if (!a || !a.equals(b)) {
    throw new FlashrootError('EBENCH', `the chroot ${chroot} does not hold the host's kernel ${version} (${hostImage})`, {
      hint: `remove ${chroot}.stamp to remake it; the host's apt sources must offer linux-image-${version}`,
    });
  }
}
