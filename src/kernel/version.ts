/**
 * Which kernel a bzImage is, read from the image itself, and which of several installed kernels is
 * newest. The version inside the image is what `uname -r` will say at boot, so it names the
 * /lib/modules directory the initramfs must carry.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';

/** x86 boot protocol: the setup header's magic and the pointer to the version string. */
const HDRS_OFFSET = 0x202;
const HDRS_MAGIC = 'HdrS';
const KERNEL_VERSION_PTR_OFFSET = 0x20e;
/** The pointer counts from the start of the setup code, which follows the 512-byte boot sector. */
const KERNEL_VERSION_BASE = 0x200;
const VERSION_MAX_BYTES = 256;

export async function kernelVersionFromImage(path: string): Promise<string> {
  const notKernel = (why: string) =>
    new InputError(path, `${path} is not a readable x86 kernel image: ${why}.`, 'Give a bzImage such as /boot/vmlinuz-<version>.');
  let file;
  try {
    file = await open(path, 'r');
  } catch (e) {
    throw new InputError(path, `Cannot open kernel image ${path}: ${(e as Error).message}.`, 'Check the path and that you may read it (kernels in /boot are often root-only).');
  }
  try {
    const header = Buffer.alloc(KERNEL_VERSION_PTR_OFFSET + 2);
    const { bytesRead } = await file.read(header, 0, header.length, 0);
    if (bytesRead < header.length) throw notKernel('file too short');
    if (header.toString('latin1', HDRS_OFFSET, HDRS_OFFSET + 4) !== HDRS_MAGIC) throw notKernel('no "HdrS" setup header');
    const pointer = header.readUInt16LE(KERNEL_VERSION_PTR_OFFSET);
    if (pointer === 0) throw notKernel('the setup header carries no version string');
    const text = Buffer.alloc(VERSION_MAX_BYTES);
    const read = await file.read(text, 0, text.length, pointer + KERNEL_VERSION_BASE);
    // "6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP ..." — the release is the first word.
    const release = text.subarray(0, read.bytesRead).toString('latin1').split('\0')[0]?.split(' ')[0] ?? '';
    if (!/^\d+\.\d+/.test(release)) throw notKernel(`unexpected version string "${release}"`);
    return release;
  } finally {
    await file.close();
  }
}

/**
 * Orders kernel releases the way people read them: numeric runs compare as numbers, so
 * 6.1.0-10 < 6.1.0-9 is false and 6.10 > 6.9.
 */
export function compareKernelVersions(a: string, b: string): number {
  const split = (v: string) => v.match(/\d+|\D+/g) ?? [];
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    if (x === y) continue;
    const bothNumeric = /^\d/.test(x) && /^\d/.test(y);
    if (bothNumeric) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return 0;
}

export interface InstalledKernel {
  image: string;
  /** Taken from the file name (vmlinuz-<version>); kernelVersionFromImage confirms it. */
  version: string;
}

/** The kernels in bootDir (vmlinuz-<version>), newest first; [] when there is none or no such directory. */
export async function listKernels(bootDir: string): Promise<InstalledKernel[]> {
  const names = await readdir(bootDir).catch(() => [] as string[]);
  return names
    .filter((n) => n.startsWith('vmlinuz-'))
    .map((n) => n.slice('vmlinuz-'.length))
    .sort(compareKernelVersions)
    .reverse()
    .map((version) => ({ image: join(bootDir, `vmlinuz-${version}`), version }));
}

export async function findNewestKernel(bootDir = '/boot'): Promise<InstalledKernel> {
  try {
    await readdir(bootDir);
  } catch (e) {
    throw new InputError(bootDir, `Cannot list ${bootDir}: ${(e as Error).message}.`, 'Name the kernel image explicitly.');
  }
  const newest = (await listKernels(bootDir))[0];
  if (newest === undefined) {
    throw new InputError(bootDir, `No vmlinuz-* kernel in ${bootDir}.`, 'Install one (apt-get install linux-image-amd64) or name the kernel image explicitly.');
  }
  return newest;
}
