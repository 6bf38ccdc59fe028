/**
 * Debian's Secure Boot binaries for the stock-keys route: shim signed by Microsoft, MokManager and
 * grub signed by Debian. They are taken from the host when installed, else fetched once with
 * `apt-get download` and unpacked with `dpkg-deb -x` into a cache: installing shim-signed or
 * grub-efi-amd64-signed would run their maintainer scripts against the host's own boot.
 */
import { access, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FlashrootError } from '../errors.js';
import { cacheDir } from '../util/cache.js';
import { run } from '../util/run.js';

export interface SignedFile {
  /** The Debian package that ships it. */
  pkg: string;
  /** Where the package puts it. */
  path: string;
}

export const SIGNED_SHIM: SignedFile = { pkg: 'shim-signed', path: '/usr/lib/shim/shimx64.efi.signed' };
export const SIGNED_MOK_MANAGER: SignedFile = { pkg: 'shim-helpers-amd64-signed', path: '/usr/lib/shim/mmx64.efi.signed' };
export const SIGNED_GRUB: SignedFile = { pkg: 'grub-efi-amd64-signed', path: '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed' };

const APT_TIMEOUT_MS = 300_000;

export function signedPackagesCache(env = process.env): string {
  return cacheDir('debs', env);
}

const exists = (p: string) => access(p).then(() => true, () => false);

/** The host's copy of `f`, or the cached unpacked package's, fetching the package if neither is there. */
export async function signedFile(f: SignedFile, cache = signedPackagesCache()): Promise<string> {
  if (await exists(f.path)) return f.path;
  const root = join(cache, f.pkg);
  const cached = join(root, f.path);
  if (await exists(cached)) return cached;
  await fetchPackage(f.pkg, cache);
  if (!(await exists(cached))) {
    throw new FlashrootError('ESIGNED', `${f.pkg} has no ${f.path}`, { hint: `the package layout changed: check dpkg-deb -c ${f.pkg}_*.deb`, exitCode: 4 });
  }
  return cached;
}

async function fetchPackage(pkg: string, cache: string): Promise<void> {
  await mkdir(cache, { recursive: true });
  // Unpacked beside its final place and renamed into it, so an interrupted fetch leaves no half package.
  const work = await mkdtemp(join(cache, `.${pkg}-`));
  try {
    // apt drops to the _apt user to download, who cannot write into our directory as root.
    const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
    try {
      await run('apt-get', [...sandbox, 'download', '-qq', pkg], { cwd: work, timeoutMs: APT_TIMEOUT_MS });
    } catch (e) {
      throw new FlashrootError('ESIGNED', `cannot fetch ${pkg}, which holds the Secure Boot binaries of the shim route: ${(e as Error).message}`, {
        hint: `apt must reach the Debian archive (apt-get update; apt-get download ${pkg}); or build with --uefi-loader systemd-boot`,
        exitCode: 4,
        cause: e,
      });
    }
    const deb = (await readdir(work)).find((n) => n.endsWith('.deb'));
    if (!deb) throw new FlashrootError('ESIGNED', `apt-get download ${pkg} left no .deb`, { hint: 'run it by hand to see why', exitCode: 4 });
    await run('dpkg-deb', ['-x', join(work, deb), join(work, 'root')]);
    await rm(join(cache, pkg), { recursive: true, force: true });
    await rename(join(work, 'root'), join(cache, pkg));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
