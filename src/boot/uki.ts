/**
 * Unified Kernel Image: the systemd stub with the kernel, initrd, command line and os-release
 * appended as PE sections. One signed file carries everything the firmware boots, so Secure Boot
 * covers the initrd and the command line too.
 */
import { readFile } from 'node:fs/promises';
import { InputError, KernelError, UsageError } from '../errors.js';
import { kernelVersionFromImage } from '../kernel/version.js';
import { preflight, type RequiredFile } from '../util/tools.js';
import { addSections, type NewSection } from './pe.js';

export const UKI_STUB: RequiredFile = {
  path: '/usr/lib/systemd/boot/efi/linuxx64.efi.stub',
  why: 'build a Unified Kernel Image (the UEFI stub it starts from)',
  apt: 'systemd-boot-efi',
};

export interface UkiParts {
  stub: Buffer;
  kernel: Buffer;
  initrd: Buffer;
  cmdline: string;
  osRelease: string;
  /** The kernel release (`uname -r`); systemd v252 records it in `.uname`. */
  uname?: string;
}

/** x86 boot protocol: a bzImage carries "HdrS" here; the stub's handover needs it. */
const BZIMAGE_MAGIC_OFFSET = 0x202;

export function buildUki(parts: UkiParts): Buffer {
  if (parts.kernel.toString('latin1', BZIMAGE_MAGIC_OFFSET, BZIMAGE_MAGIC_OFFSET + 4) !== 'HdrS') {
    throw new KernelError('The kernel is not an x86 bzImage (no "HdrS" setup header); the systemd stub cannot start it.', 'Give /boot/vmlinuz-<version>, not vmlinux or a compressed file.');
  }
  const cmdline = normaliseCmdline(parts.cmdline);
  // The stub finds sections by name; .linux goes last, as ukify places it, so nothing of ours sits
  // in the memory a kernel decompressing in place could grow into.
  const sections: NewSection[] = [
    { name: '.osrel', data: Buffer.from(parts.osRelease, 'utf8') },
    { name: '.cmdline', data: Buffer.from(cmdline, 'ascii') },
    ...(parts.uname ? [{ name: '.uname', data: Buffer.from(parts.uname, 'ascii') }] : []),
    { name: '.initrd', data: parts.initrd },
    { name: '.linux', data: parts.kernel },
  ];
  return addSections(parts.stub, sections);
}

/**
 * The stub passes `.cmdline` to the kernel byte for byte: a trailing newline would end up in the
 * last parameter's value, and the v252 stub turns non-ASCII bytes into spaces.
 */
export function normaliseCmdline(cmdline: string): string {
  const text = cmdline.trim();
  if (!/^[\x20-\x7e]*$/.test(text)) {
    throw new UsageError(`The kernel command line must be one line of printable ASCII: ${JSON.stringify(cmdline)}.`, 'Remove line breaks, tabs and non-ASCII characters.');
  }
  return text;
}

/**
 * A minimal os-release for the `.osrel` section. systemd-boot lists a UKI only when its os-release
 * has a name and a version, and shows PRETTY_NAME as the menu title.
 */
export function osRelease(prettyName: string, version: string): string {
  const quote = (v: string) => `"${v.replace(/["\\$`]/g, '\\$&')}"`;
  return [
    'NAME="flashroot"',
    'ID=flashroot',
    `PRETTY_NAME=${quote(prettyName)}`,
    `VERSION_ID=${version.replace(/[^A-Za-z0-9._-]/g, '_')}`,
    '',
  ].join('\n');
}

export interface UkiFiles {
  kernel: string;
  initrd: string;
  cmdline: string;
  /** Defaults to a flashroot os-release titled with the kernel release. */
  osReleasePath?: string;
  stub?: string;
}

/** Reads the inputs from disk (after checking they exist) and builds the UKI. */
export async function buildUkiFromFiles(files: UkiFiles): Promise<Buffer> {
  const stubPath = files.stub ?? UKI_STUB.path;
  await preflight([], [{ ...UKI_STUB, path: stubPath }]);
  const uname = await kernelVersionFromImage(files.kernel);
  const [stub, kernel, initrd, osrel] = await Promise.all([
    readFile(stubPath),
    readInput(files.kernel, 'kernel'),
    readInput(files.initrd, 'initrd'),
    files.osReleasePath ? readOsRelease(files.osReleasePath) : osRelease(`flashroot (${uname})`, uname),
  ]);
  return buildUki({ stub, kernel, initrd, cmdline: files.cmdline, osRelease: osrel, uname });
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new InputError(path, `Cannot read the ${what} ${path}: ${(e as Error).message}.`, 'Check the path and that you may read it.');
  }
}

/** systemd-boot silently leaves out a UKI whose os-release lacks a name or a version. */
async function readOsRelease(path: string): Promise<string> {
  const text = (await readInput(path, 'os-release')).toString('utf8');
  const has = (keys: readonly string[]) => keys.some((k) => new RegExp(`^${k}=\\S`, 'm').test(text));
  if (!has(['PRETTY_NAME', 'IMAGE_ID', 'NAME', 'ID']) || !has(['IMAGE_VERSION', 'VERSION', 'VERSION_ID', 'BUILD_ID'])) {
    throw new InputError(path, `${path} has no name or no version; systemd-boot would not list a UKI built with it.`, 'Give it PRETTY_NAME= (or NAME=) and VERSION_ID= (or VERSION=) lines.');
  }
  return text;
}
