/**
 * A Debian 12 root that looks installed on a disk, the way a user's own system does: systemd with
 * udev and systemd-networkd, openssh-server, its own kernel (Debian's real-time flavour, so it is
 * never the build host's), an fstab naming the disk it was installed on (root, /boot/efi and swap by
 * UUID) and a swapfile, a machine-id, a package in apt's cache. Made with mmdebstrap once and
 * cached. A service of the test's own reports what a user would check once the boot is complete,
 * on the serial line, then powers off.
 */
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { debianTree } from '../../bench/debian-tree.js';
import { Reporter } from '../../src/util/log.js';
import { run } from '../../src/util/run.js';

export const REPORT_PREFIX = 'installed-report:';
export const REPORT_DONE = `${REPORT_PREFIX} done`;
export const MACHINE_ID = '0123456789abcdef0123456789abcdef';
export const SWAPFILE_BYTES = 64 * 1024 * 1024;

export const INSTALLED_FSTAB = `# /etc/fstab: static file system information.
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
# / was on /dev/sda2 during installation
UUID=3f1c2a9e-6b1d-4c55-9d1e-2b8f0c1a7e42 /               ext4    errors=remount-ro 0       1
# /boot/efi was on /dev/sda1 during installation
UUID=A1B2-C3D4  /boot/efi       vfat    umask=0077      0       1
# swap was on /dev/sda3 during installation
UUID=9c7e5d1a-2f3b-4a6c-8d9e-0f1a2b3c4d5e none            swap    sw              0       0
/swapfile none swap sw 0 0
`;

const REPORT_SCRIPT = `#!/bin/sh
# Waits for the boot to finish, says what a user would check, then powers off.
systemctl is-system-running --wait >/dev/null 2>&1
p='${REPORT_PREFIX}'
echo "$p state $(systemctl is-system-running)"
echo "$p kernel $(uname -r)"
systemctl --failed --no-legend --plain | sed "s/^/$p failed /"
systemctl list-jobs --no-legend | sed "s/^/$p job /"
ip -br -4 addr show scope global | sed "s/^/$p addr /"
echo "$p ssh $(systemctl is-active ssh)"
echo "$p swaps $(tail -n +2 /proc/swaps | wc -l)"
echo "$p swapfile $(if [ -e /swapfile ]; then echo present; else echo absent; fi)"
echo "$p machine-id $(cat /etc/machine-id)"
echo "$p root $(findmnt -n -o FSTYPE /)"
echo "$p modprobe-loop $(modprobe loop 2>&1 && echo ok)"
echo '${REPORT_DONE}'
systemctl poweroff
`;

const REPORT_UNIT = `[Unit]
Description=Report the booted system's state for the flashroot test

[Service]
# simple, not oneshot: the boot counts as complete without waiting for this unit.
Type=simple
ExecStart=/usr/local/sbin/flashroot-test-report
# /dev/console (the serial line, the stick's last console=), not /dev/ttyS0: the serial getty's
# vhangup cuts off every writer that opened the tty itself, but not the console's.
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
`;

const WIRED_NETWORK = `[Match]
Name=en* eth*

[Network]
DHCP=yes
`;

async function makeLookInstalled(dir: string): Promise<void> {
  await writeFile(join(dir, 'etc/fstab'), INSTALLED_FSTAB);
  await writeFile(join(dir, 'etc/machine-id'), `${MACHINE_ID}\n`);
  await writeFile(join(dir, 'etc/hostname'), 'htpc\n');
  await run('fallocate', ['-l', String(SWAPFILE_BYTES), join(dir, 'swapfile')]);
  await chmod(join(dir, 'swapfile'), 0o600);
  await run('mkswap', ['-q', join(dir, 'swapfile')]);
  await writeFile(join(dir, 'var/cache/apt/archives/htpc-tools_1.0_all.deb'), Buffer.alloc(512 * 1024, 1));
  await mkdir(join(dir, 'etc/systemd/network'), { recursive: true });
  await writeFile(join(dir, 'etc/systemd/network/20-wired.network'), WIRED_NETWORK);
  const wants = join(dir, 'etc/systemd/system/multi-user.target.wants');
  await mkdir(wants, { recursive: true });
  await symlink('/lib/systemd/system/systemd-networkd.service', join(wants, 'systemd-networkd.service'));
  await mkdir(join(dir, 'usr/local/sbin'), { recursive: true });
  await writeFile(join(dir, 'usr/local/sbin/flashroot-test-report'), REPORT_SCRIPT, { mode: 0o755 });
  await writeFile(join(dir, 'etc/systemd/system/flashroot-test-report.service'), REPORT_UNIT);
  await symlink('/etc/systemd/system/flashroot-test-report.service', join(wants, 'flashroot-test-report.service'));
}

/** The cached root (made on first use: a few minutes). */
export async function installedLikeRoot(): Promise<string> {
  return debianTree(
    {
      name: 'root-installed-bookworm',
      include: ['systemd-sysv', 'udev', 'kmod', 'iproute2', 'openssh-server', 'linux-image-rt-amd64'],
      customize: { version: 'installed-3', apply: makeLookInstalled },
    },
    new Reporter(true),
  );
}
