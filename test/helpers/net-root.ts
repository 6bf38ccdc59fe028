/**
 * A test root for network lowers: the demo root plus what POSIX fidelity and lazy reading are
 * judged on (a symlink chain, a hard link triple, a setuid file, a non-root owner, two large
 * incompressible files nobody reads at boot) and an init that reports them, then reads one large
 * file, asks the host to stop the server, reads the other, asks for the server back and reads it again.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDemoRoot } from '../../src/root/demo-root.js';

export const NET_INIT = '/sbin/net-test-init';
export const NET_BOOTED = 'net-test: booted';
export const NET_STOP_SERVER = 'net-test: stop the server now';
export const NET_RESTART_SERVER = 'net-test: start the server again';
export const NET_DONE = 'net-test: done';
export const BIG_FILE_BYTES = 4 * 1024 * 1024;
/**
 * The secret of the S3 key tests bake into sticks; the test init looks for it on every process's
 * command line (readable by all users), with a pattern that does not match grep's own.
 */
export const NET_SECRET = 'not-a-real-secret';

const INIT = `#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
echo "net-test: lower $(awk '$2 == "/run/flashroot/lower" { print $1, $3 }' /proc/mounts)"
echo "net-test: fidelity chain=$(readlink -f /srv/chain-1) links=$(stat -c %h /srv/hl-1) suid=$(stat -c %a /srv/suid) owner=$(stat -c %u:%g:%a /srv/owned)"
echo "net-test: ssh key $([ -e /run/flashroot/rt/etc/flashroot/ssh/id ] && echo visible || echo hidden)"
echo "net-test: runtime root $([ -e /run/flashroot/rt/etc ] && echo visible || echo hidden)"
echo "net-test: command lines naming the secret: $(grep -l -a -e '${NET_SECRET.slice(0, -1)}[${NET_SECRET.slice(-1)}]' /proc/[0-9]*/cmdline 2>/dev/null | wc -l)"
echo "${NET_BOOTED}"
sleep 3
echo "net-test: big-a $(sha256sum /srv/big-a | cut -d' ' -f1)"
echo "${NET_STOP_SERVER}"
sleep 4
t0=$(cut -d. -f1 /proc/uptime)
if cat /srv/big-b >/dev/null 2>/tmp/err; then r=ok; else r="failed ($(tail -n 1 /tmp/err))"; fi
echo "net-test: read after server stop $r after $(($(cut -d. -f1 /proc/uptime) - t0)) s"
echo "${NET_RESTART_SERVER}"
sleep 4
if cat /srv/big-b >/dev/null 2>/tmp/err; then r=ok; else r="failed ($(tail -n 1 /tmp/err))"; fi
echo "net-test: read after server restart $r"
echo "${NET_DONE}"
sync
poweroff -f
`;

export interface NetRoot {
  dir: string;
  bigA: Buffer;
}

export async function makeNetRoot(dir: string): Promise<NetRoot> {
  await makeDemoRoot(dir);
  const srv = join(dir, 'srv');
  await mkdir(srv);
  const bigA = randomBytes(BIG_FILE_BYTES);
  await writeFile(join(srv, 'big-a'), bigA);
  await writeFile(join(srv, 'big-b'), randomBytes(BIG_FILE_BYTES));
  await writeFile(join(srv, 'target'), 'end of the chain\n');
  await symlink('chain-2', join(srv, 'chain-1'));
  await symlink('/srv/chain-3', join(srv, 'chain-2'));
  await symlink('target', join(srv, 'chain-3'));
  await writeFile(join(srv, 'hl-1'), 'three names\n');
  await link(join(srv, 'hl-1'), join(srv, 'hl-2'));
  await link(join(srv, 'hl-1'), join(srv, 'hl-3'));
  await copyFile(join(dir, 'bin/busybox'), join(srv, 'suid'));
  await chmod(join(srv, 'suid'), 0o4755);
  await writeFile(join(srv, 'owned'), 'not root\n');
  await chown(join(srv, 'owned'), 1000, 1000);
  await chmod(join(srv, 'owned'), 0o640);
  await writeFile(join(dir, NET_INIT), INIT, { mode: 0o755 });
  return { dir, bigA };
}
