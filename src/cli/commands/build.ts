import type { Command } from 'commander';
import type { BuildOptionsInput } from '../../pipeline/options.js';
import type { RegisterCommand } from './index.js';

/** commander's way of repeating an option. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export const register: RegisterCommand = (program: Command) => {
  program
    .command('build')
    .description('Build a bootable stick image from a root filesystem (or the demo root).')
    .option('--root <dir>', 'root filesystem to put on the stick (a directory, or / for the running system)')
    .option('--demo', 'use the embedded demo root (the default without --root)')
    .option('--init <path>', "the root's init, run after switch_root", '/sbin/init')
    .option('--kernel <file>', "kernel image (default: the root's own newest ROOT/boot/vmlinuz-* with its modules; the host's newest /boot/vmlinuz-* for a root without one)")
    .option('--modules <dir>', "the kernel's modules (default: lib/modules/<version read from the kernel> beside the kernel's boot/, else the host's)")
    .option('--hardware <what>', "drivers the initramfs carries: generic (every storage controller and keyboard, and every wired/USB NIC for a network lower, server and 1990s NICs from an image on the stick), host (this box's devices) or a FILE from flashroot hardware --save", 'generic')
    .option('--out <file>', 'image file to write', 'images/flashroot.img')
    .option('--comp <name>', 'squashfs compressor: zstd, xz, gzip, lz4', 'zstd')
    .option('--initrd-comp <name>', 'initramfs compressor: zstd, xz, gzip', 'zstd')
    .option('--label <label>', 'FAT label the init finds the stick by', 'FLASHROOT')
    .option('--size <size>', 'image size, e.g. 2G (default: contents + headroom)')
    .option('--boot <mode>', 'hybrid (BIOS + UEFI), bios or uefi', 'hybrid')
    .option('--upper-size <size>', 'RAM for writes to / (tmpfs size: 512M, or a share of RAM like 50%)', '50%')
    .option('--toram [mode]', "copy the root to RAM at boot so the stick can be pulled; 'strict' fails instead of running from the stick when RAM is short")
    .option('--verify', 'check the sha256 of the root image at boot before mounting it')
    .option('--onfail <what>', 'when the boot fails: shell (rescue shell) or poweroff', 'shell')
    .option('--timeout <seconds>', 'how long the init waits for the stick', '30')
    .option('--menu-timeout <seconds>', 'boot menu timeout', '3')
    .option('--console <where>', "the root's console (/dev/console, the last console=): serial or screen; flashroot's own lines and rescue shells are on both", 'serial')
    .option('--quiet', "keep the kernel's messages off the consoles (errors still show; flashroot's own lines stay); the rescue entry stays verbose")
    .option('--uefi-loader <name>', 'shim (Microsoft-signed shim and Debian-signed grub: boots with Secure Boot on and stock keys; the default) or systemd-boot (UKIs; the default with --sign-key)')
    .option('--cmdline <text>', 'extra kernel command line', '')
    .option('--lower <where>', "the root's lower layer: local (squashfs on the stick), http(s)://HOST/PATH/ or s3://BUCKET/PREFIX/ (image published there, see flashroot publish), sshfs://USER@HOST[:PORT]/PATH or s3fs://BUCKET/PREFIX/ (tree)", 'local')
    .option('--endpoint <url>', 'with --lower s3://BUCKET/PREFIX/ or s3fs://BUCKET/PREFIX/: the S3 endpoint the stick reads from (s3://: public-read objects are read without signing, like an http:// or https:// image; --signed-reads goes through nbdkit with the S3 reader of flashroot, which signs each read)')
    .option('--http-client <name>', 'what reads an http:// image at boot: httpfs2 (~1 MB; reads wait while the server stalls and go on when it answers) or rclone (+16 MB; a stalled server becomes I/O errors within 1-3 minutes)')
    .option('--signed-reads', 'the bucket is private: the stick signs its reads with the key in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (give it a read-only one; where it lives on the stick: docs/network.md)')
    .option('--ca-cert <file>', "with --lower https://… or an https:// --endpoint: the only CA certificates (PEM) the stick trusts for the server (default: this host's bundle)")
    .option('--channel <name>', "with an image --lower DIR/ (http, https, s3): follow the signed channel NAME there instead of baking this image's root hash in; each boot runs the version the manifest names (flashroot publish --channel)")
    .option('--trust <file>', 'with --channel: the signify public key (.pub) its manifests must be signed with (signify-openbsd -G -n -p fleet.pub -s fleet.sec)')
    .option('--offline-copy [size]', 'with --channel: keep a copy of the last verified version on the stick (partition 2; written once per new version, in the background after boot) and boot it when the server cannot be reached (default size: two copies of twice this image)')
    .option('--ssh-key <file>', 'private key the init logs in with for --lower sshfs://… (placed in the initramfs: see docs/network.md)')
    .option('--ssh-known-hosts <file>', "the server's host key line(s) for --lower sshfs://… (without: any host key is accepted)")
    .option('--room-for-update', 'size the FAT for a second system beside this one, so flashroot update can keep this one as the fallback')
    .option('--release <name>', 'a name for this build, shown by inspect and on the console (default: the build id)')
    .option('--confirm-after <seconds>', 'a root without systemd counts as having come up (confirming an update on trial) after its init has run this long', '60')
    .option('--reproducible', 'fixed times and ids: two builds of the same input are identical (also with SOURCE_DATE_EPOCH)')
    .option('--sign-key <pem>', 'sign the UKIs and systemd-boot for Secure Boot (with --sign-cert)')
    .option('--sign-cert <pem>', 'certificate for --sign-key')
    .option('--exclude <pattern>', 'leave PATTERN out of the stick (relative to the root, * ? [] per path component; repeatable)', collect, [])
    .option('--exclude-from <file>', 'leave out the patterns listed in FILE, one a line (# comments)')
    .option('--include-mount <path>', 'capture the filesystem mounted at PATH inside the root, e.g. /home (other mounts are left out; repeatable)', collect, [])
    .option('--identity <mode>', "keep (move this box: machine-id, SSH host keys, hostname stay) or reset (a master image: each box makes its own machine-id and host keys)", 'keep')
    .option('--persist <path>', 'keep PATH (e.g. /etc, /var/lib/kodi, or / for all changes) across reboots: saved to a partition of its own by flashroot-save, applied at boot; repeatable', collect, [])
    .option('--persist-size <size>', 'size of the saves partition (three generations of up to a third each; default 64MiB)')
    .option('--no-save-at-shutdown', 'with --persist: do not save at a clean shutdown (flashroot.save_shutdown=1 turns it back on)')
    .option('--save-every <minutes>', 'with --persist: save every N minutes when something changed; 0 only on demand and at shutdown (default 60; flashroot.save_every=N)')
    .option('--json', 'print the result as JSON on stdout, no progress')
    .action(async (opts: Record<string, unknown>) => {
      const { build } = await import('../../pipeline/build.js');
      // --toram alone means "if it fits"; commander gives true for a bare optional-value flag.
      const result = await build({ ...opts, toram: opts.toram === true ? '1' : (opts.toram as BuildOptionsInput['toram']) });
      if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    });
};
