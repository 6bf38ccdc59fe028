/**
 * Every external program flashroot may run, why it is needed and where it comes from. Preflight
 * checks the tools a command needs before any work starts, and reports all missing ones at once.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { FlashrootError, ToolMissingError } from '../errors.js';

interface ToolInfo {
  why: string;
  apt: string;
}

const TOOLS: Record<string, ToolInfo> = {
  mksquashfs: { why: 'compress the root filesystem to squashfs', apt: 'squashfs-tools' },
  unsquashfs: { why: 'inspect a squashfs image', apt: 'squashfs-tools' },
  syslinux: { why: 'install the BIOS boot loader into the FAT partition', apt: 'syslinux syslinux-common mtools' },
  busybox: { why: 'provide the shell and tools of the initramfs', apt: 'busybox-static' },
  'qemu-system-x86_64': { why: 'boot an image in a virtual machine', apt: 'qemu-system-x86' },
  zstd: { why: 'decompress .ko.zst kernel modules', apt: 'zstd' },
  xz: { why: 'decompress .ko.xz kernel modules', apt: 'xz-utils' },
  gzip: { why: 'decompress .ko.gz kernel modules for the modules layer', apt: 'gzip' },
  sbsign: { why: 'sign EFI binaries for Secure Boot', apt: 'sbsigntool' },
  sbverify: { why: 'verify Secure Boot signatures', apt: 'sbsigntool' },
  faketime: { why: 'sign reproducibly: sbsign stamps the time of signing into the signature', apt: 'faketime' },
  openssl: { why: 'generate a Secure Boot signing key', apt: 'openssl' },
  objdump: { why: 'inspect PE/ELF binaries', apt: 'binutils' },
  losetup: { why: 'attach an image file to a loop device', apt: 'mount' },
  mke2fs: { why: 'make the ext4 read-write root that endurance measurements compare against', apt: 'e2fsprogs' },
  mcopy: { why: 'let syslinux write its files into the FAT without mounting it', apt: 'mtools' },
  file: { why: 'check that busybox is statically linked', apt: 'file' },
  timeout: { why: 'bound how long a virtual machine may run', apt: 'coreutils' },
  lsblk: { why: 'list drives and what is built on them (partitions, LVM, md, mounts)', apt: 'util-linux' },
  veritysetup: { why: 'append the dm-verity hash tree that lets a stick trust a network image', apt: 'cryptsetup-bin' },
  'signify-openbsd': { why: 'sign channel manifests (publish --channel) and check them at boot (build --channel; Ed25519, 0.3 MB with its libraries)', apt: 'signify-openbsd' },
  dmsetup: { why: 'map a network image through dm-verity at boot', apt: 'dmsetup' },
  httpfs2: { why: 'read a network image over HTTP at boot (FUSE, range requests)', apt: 'httpfs2' },
  rclone: { why: 'read a network image over http:// at boot when --http-client rclone is chosen (FUSE, range requests)', apt: 'rclone' },
  nbdkit: { why: 'read a network image over HTTPS or from a private S3 bucket at boot (range requests)', apt: 'nbdkit' },
  'nbdkit-plugin-perl': { why: "run flashroot's S3 reader in nbdkit at boot (signed range requests from a private bucket)", apt: 'nbdkit-plugin-perl' },
  'libwww-curl-perl': { why: "let flashroot's S3 reader have libcurl sign its requests (WWW::Curl)", apt: 'libwww-curl-perl' },
  'nbd-client': { why: "attach nbdkit's image as a block device at boot (the kernel's NBD client)", apt: 'nbd-client' },
  curl: { why: 'fetch a channel manifest over HTTPS at boot, and say why a server cannot be reached', apt: 'curl' },
  fusermount3: { why: 'let rclone mount its FUSE filesystem at boot', apt: 'fuse3' },
  nginx: { why: 'serve network images in tests', apt: 'nginx-light' },
  sshfs: { why: 'mount an sshfs:// lower at boot (FUSE over SFTP)', apt: 'sshfs' },
  ssh: { why: 'carry sshfs to the server at boot', apt: 'openssh-client' },
  s3fs: { why: 'mount an s3fs:// lower at boot (FUSE over S3)', apt: 's3fs' },
  depmod: { why: "index the kernel's modules for a root that has none (the modules layer)", apt: 'kmod' },
  umount: { why: "unmount a drive's filesystems before writing it (--unmount)", apt: 'mount' },
};

export function toolInfo(tool: string): ToolInfo {
  return TOOLS[tool] ?? { why: `run ${tool}`, apt: tool };
}

export async function findOnPath(tool: string): Promise<string | undefined> {
  if (tool.includes('/')) return tool;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir, tool);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** A data file a step needs (a boot loader blob, a stub), with the package that ships it. */
export interface RequiredFile {
  path: string;
  why: string;
  apt: string;
}

/** Fails with every missing tool and file listed, so the user installs them in one go. */
export async function preflight(tools: readonly string[], files: readonly RequiredFile[] = []): Promise<void> {
  const missing: ToolMissingError[] = [];
  for (const t of tools) {
    if (!(await findOnPath(t))) missing.push(new ToolMissingError(t, toolInfo(t).why, toolInfo(t).apt));
  }
  const missingFiles: RequiredFile[] = [];
  for (const f of files) {
    try {
      await access(f.path, constants.R_OK);
    } catch {
      missingFiles.push(f);
    }
  }
  const [only] = missing;
  if (only && missing.length === 1 && missingFiles.length === 0) throw only;
  if (missing.length + missingFiles.length > 0) {
    const lines = [
      ...missing.map((m) => `- ${m.message}`),
      ...missingFiles.map((f) => `- Could not find ${f.path}, which is required to ${f.why}.`),
    ];
    const pkgs = [...new Set([...missing.map((m) => toolInfo(m.tool).apt), ...missingFiles.map((f) => f.apt)])];
    throw new FlashrootError('ETOOL', `Missing what this command needs:\n${lines.join('\n')}`, {
      hint: `Install them: apt-get install ${pkgs.join(' ')}`,
      exitCode: 4,
    });
  }
}
