/**
 * What the UKI boot tests share: the newest installed kernel, a tiny initrd whose /init prints a
 * marker with the command line and powers off, and a stick image holding given ESP files.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EspFile } from '../../src/boot/systemd-boot.js';
import { assembleImage } from '../../src/disk/image.js';
import { compressInitrd } from '../../src/initramfs/compress.js';
import { writeCpio } from '../../src/initramfs/cpio.js';
import { findNewestKernel } from '../../src/kernel/version.js';

export const MARKER = 'FLASHROOT-UKI-TEST-REACHED';

const INIT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "${MARKER} cmdline=[$(/bin/busybox cat /proc/cmdline)]"
/bin/busybox poweroff -f
`;

export interface TestKernel {
  kernel: Buffer;
  uname: string;
  initrd: Buffer;
}

export async function testKernel(): Promise<TestKernel> {
  const { image, version } = await findNewestKernel();
  const cpio = writeCpio([
    { kind: 'file', path: 'init', data: Buffer.from(INIT), mode: 0o755 },
    { kind: 'file', path: 'bin/busybox', data: await readFile('/bin/busybox'), mode: 0o755 },
    { kind: 'dir', path: 'proc' },
  ]);
  return { kernel: await readFile(image), uname: version, initrd: await compressInitrd(cpio, 'gzip') };
}

/** A stick image (MBR + FAT32, as flashroot writes them) holding only these files. */
export async function espStick(dir: string, files: readonly EspFile[]): Promise<string> {
  const out = join(dir, 'esp.img');
  await assembleImage({ out, files: files.map((f) => ({ path: f.path, content: f.data })), label: 'FLASHROOT', serial: 0x1234abcd, diskSignature: 0x5678 });
  return out;
}

/** The command line the test init saw, from its marker line. */
export function cmdlineSeen(consoleLines: readonly string[]): string | undefined {
  const line = consoleLines.find((l) => l.includes(MARKER));
  return line === undefined ? undefined : /cmdline=\[(.*)\]/.exec(line)?.[1];
}
