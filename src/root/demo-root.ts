/**
 * The demo root: busybox-static and an init that reports what the booted system looks like
 * (the marker, the root mount, a write test), made fresh at build time, never committed.
 */
import { chmod, copyFile, mkdir, symlink, writeFile, link } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../util/run.js';
import { findOnPath } from '../util/tools.js';
import { ToolMissingError } from '../errors.js';

export const DEMO_MARKER = 'flashroot-demo: root init reached';

const DEMO_INIT = `#!/bin/sh
# flashroot demo root: says what the booted system looks like, then powers off
# (boot with demo.shell on the kernel command line to get a shell instead, demo.modprobe=a,b to
# load modules first).
PATH=/bin:/sbin
export PATH
echo "${DEMO_MARKER} (pid $$)"
echo "flashroot-demo: kernel $(uname -r)"
echo "flashroot-demo: root $(awk '$2 == "/" { print $1, $3, $4 }' /proc/mounts)"
awk '$2 ~ /^\\/run\\/flashroot\\// { print "flashroot-demo: layer " $2, $3, $4 }' /proc/mounts
if echo "written at boot" >/root/boot-write-test && [ "$(cat /root/boot-write-test)" = "written at boot" ]; then
	echo "flashroot-demo: write to / ok"
else
	echo "flashroot-demo: write to / FAILED"
fi
echo "flashroot-demo: fidelity $(readlink /etc/motd-link) links=$(stat -c %h /etc/motd) mode=$(stat -c %a /bin/busybox)"
# demo.modprobe=a,b loads modules in the booted system: proof that it finds its kernel's modules.
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	demo.modprobe=*)
		for m in $(echo "\${arg#demo.modprobe=}" | tr , ' '); do
			if modprobe "$m" && grep -q "^$m " /proc/modules; then
				echo "flashroot-demo: modprobe $m ok ($(uname -r))"
			else
				echo "flashroot-demo: modprobe $m FAILED ($(uname -r))"
			fi
		done
		;;
	esac
done
case " $(cat /proc/cmdline) " in
*" demo.shell "*) exec setsid cttyhack sh -l ;;
esac
echo "flashroot-demo: powering off"
sync
poweroff -f
`;

/** Builds the demo root in dir (which must be empty or missing); `init` replaces its /sbin/init script. */
export async function makeDemoRoot(dir: string, init = DEMO_INIT): Promise<void> {
  const busybox = await findOnPath('busybox');
  if (!busybox) throw new ToolMissingError('busybox', 'build the demo root', 'busybox-static');
  for (const d of ['bin', 'sbin', 'etc', 'root', 'proc', 'sys', 'dev', 'run', 'tmp', 'usr/bin', 'usr/sbin']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  await chmod(join(dir, 'tmp'), 0o1777);
  await copyFile(busybox, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  const { stdout } = await run(busybox, ['--list-full']);
  for (const applet of stdout.split('\n').filter(Boolean)) {
    // sbin/init is ours, not busybox's.
    if (applet === 'bin/busybox' || applet === 'sbin/init') continue;
    await symlink('/bin/busybox', join(dir, applet)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  // 'wx' (O_EXCL) refuses to write through a symlink: the applet links point at the host's /bin/busybox.
  await writeFile(join(dir, 'sbin/init'), init, { mode: 0o755, flag: 'wx' });
  await chmod(join(dir, 'sbin/init'), 0o755);
  await writeFile(join(dir, 'etc/motd'), 'Welcome to the flashroot demo root.\n', { flag: 'wx' });
  // A symlink and a hard link, so a booted root can show they survived.
  await symlink('motd', join(dir, 'etc/motd-link'));
  await link(join(dir, 'etc/motd'), join(dir, 'etc/motd.hardlink'));
  await writeFile(join(dir, 'etc/hostname'), 'flashroot-demo\n', { flag: 'wx' });
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n', { flag: 'wx' });
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\n', { flag: 'wx' });
}
