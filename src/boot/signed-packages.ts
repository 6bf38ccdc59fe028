/**
 * Debian's Secure Boot binaries for the stock-keys route: shim signed by Microsoft, MokManager and
 * grub signed by Debian. They are taken from the host when installed, else unpacked once into a
 * cache (src/util/debian-package.ts): installing shim-signed or grub-efi-amd64-signed would run
 * their maintainer scripts against the host's own boot.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { FlashrootError } from '../errors.js';
import { cacheDir } from '../util/cache.js';
import { aptDownload, unpackDebianPackage } from '../util/debian-package.js';

export interface SignedFile {
  /** The Debian package that ships it. */
  pkg: string;
  /** Where the package puts it. */
  path: string;
}

export const SIGNED_SHIM: SignedFile = { pkg: 'shim-signed', path: '/usr/lib/shim/shimx64.efi.signed' };
export const SIGNED_MOK_MANAGER: SignedFile = { pkg: 'shim-helpers-amd64-signed', path: '/usr/lib/shim/mmx64.efi.signed' };
export const SIGNED_GRUB: SignedFile = { pkg: 'grub-efi-amd64-signed', path: '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed' };

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
  await fetchPackage(f, cache);
  if (!(await exists(cached))) {
    throw new FlashrootError('ESIGNED', `${f.pkg} has no ${f.path}`, { hint: `the package layout changed: check dpkg-deb -c ${f.pkg}_*.deb`, exitCode: 4 });
  }
  return cached;
}

async function fetchPackage(f: SignedFile, cache: string): Promise<void> {
  await unpackDebianPackage({
    dest: join(cache, f.pkg),
    isComplete: (dest) => exists(join(dest, f.path)),
    download: async (cwd) => {
      try {
        await aptDownload(f.pkg, cwd);
      } catch (e) {
        throw new FlashrootError('ESIGNED', `cannot fetch ${f.pkg}, which holds the Secure Boot binaries of the shim route: ${(e as Error).message}`, {
          hint: `apt must reach the Debian archive (apt-get update; apt-get download ${f.pkg}); or build with --uefi-loader systemd-boot`,
          exitCode: 4,
          cause: e,
        });
      }
    },
  });
}
