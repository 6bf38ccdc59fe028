/**
 * A Debian package unpacked (never installed: no maintainer scripts run against this host) into a
 * cache directory. Fetched with `apt-get download`, unpacked with `dpkg-deb -x` beside its final
 * place and renamed into it, so an interrupted fetch or a parallel one never leaves half a package.
 */
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { run } from './run.js';

const APT_TIMEOUT_MS = 300_000;

/** `apt-get download PKG` into cwd; aptOptions point apt at a configuration of one's own. */
export async function aptDownload(pkg: string, cwd: string, aptOptions: readonly string[] = []): Promise<void> {
  // apt drops to the _apt user to download, who cannot write into our directory as root.
  const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
  await run('apt-get', [...aptOptions, ...sandbox, 'download', '-q', pkg], { cwd, timeoutMs: APT_TIMEOUT_MS });
}

export interface UnpackSpec {
  /** The directory the package's files end up in. */
  dest: string;
  /** Puts exactly one .deb into cwd (aptDownload, with the caller's retries and messages). */
  download: (cwd: string) => Promise<void>;
  /** Runs on the unpacked tree before it takes its place (depmod, for a kernel); may return the tree's root inside it. */
  prepare?: (root: string) => Promise<string | void>;
  /** True when dest already holds a whole package: a parallel fetch got there first. */
  isComplete: (dest: string) => Promise<boolean>;
}

export async function unpackDebianPackage(s: UnpackSpec): Promise<void> {
  await mkdir(dirname(s.dest), { recursive: true });
  const work = await mkdtemp(join(dirname(s.dest), `.${basename(s.dest)}-`));
  try {
    await s.download(work);
    const deb = (await readdir(work)).find((n) => n.endsWith('.deb'));
    if (!deb) throw new Error(`downloading ${basename(s.dest)} left no .deb in ${work}`);
    const unpacked = join(work, 'root');
    await run('dpkg-deb', ['-x', join(work, deb), unpacked]);
    const tree = (await s.prepare?.(unpacked)) ?? unpacked;
    if (!(await s.isComplete(s.dest))) await rm(s.dest, { recursive: true, force: true });
    await rename(tree, s.dest).catch(async (e: NodeJS.ErrnoException) => {
      if (!(await s.isComplete(s.dest))) throw e;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
