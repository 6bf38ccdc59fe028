/**
 * A test root for network lowers: the demo root plus what POSIX fidelity and lazy reading are
 * judged on (a symlink chain, a hard link triple, a setuid file, a non-root owner, large
 * incompressible files nobody reads at boot) and an init that reports them, reads one large file,
 * then runs the server faults the host is asked for on the console, each against a file not read
 * before: the server stopped (connections refused) and then started again, and the server stalled
 * (connections accepted, never answered) and then resumed. Each read is timed in the booted root.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Credentials } from '../../src/network/s3.js';
import { makeDemoRoot } from '../../src/root/demo-root.js';

export const NET_INIT = '/sbin/net-test-init';
export const NET_BOOTED = 'net-test: booted';
export const NET_STOP_SERVER = 'net-test: stop the server now';
export const NET_RESTART_SERVER = 'net-test: start the server again';
export const NET_STALL_SERVER = 'net-test: stall the server now';
export const NET_RESUME_SERVER = 'net-test: resume the server';
export const NET_DONE = 'net-test: done';
export const BIG_FILE_BYTES = 4 * 1024 * 1024;
/**
 * The secret of the S3 key tests bake into sticks; the test init looks for it on every process's
 * command line (readable by all users), with a pattern that does not match grep's own.
 */
export const NET_SECRET = 'not-a-real-secret';
/** The S3 key of the tests' private buckets. */
export const NET_S3_KEY: S3Credentials = { accessKeyId: 'FLASHROOTTEST', secretAccessKey: NET_SECRET, region: 'us-east-1' };
/** The environment a user gives a key in (flashroot never takes one on its command line). */
export const s3KeyEnv = (c: S3Credentials): NodeJS.ProcessEnv => ({ ...process.env, AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_REGION: c.region });
/** How long the init waits for one read, by default, before it reports the read as blocked (and moves on). */
export const READ_WAIT_SEC = 75;

/**
 * The init's fault phases: `stop` asks for the server to be stopped and started again, `stall` for
 * it to be stalled and resumed. A root without them reads every file with the server up.
 */
export type NetFault = 'stop' | 'stall';

const PHASES: Record<NetFault, string> = {
  stop: `echo "${NET_STOP_SERVER}"
sleep 4
timed_read "read after server stop" /srv/big-b
echo "${NET_RESTART_SERVER}"
sleep 4
timed_read "read after server restart" /srv/big-b
`,
  stall: `echo "${NET_STALL_SERVER}"
sleep 4
timed_read "read while server stalled" /srv/big-c
echo "${NET_RESUME_SERVER}"
sleep 4
# A read still blocked in the kernel cannot be killed: see whether the resumed server releases it.
[ "$blocked" = yes ] && t0=$(up) && await_read "blocked read after server resume"
timed_read "read after server resume" /srv/big-c
`,
};

function init(faults: readonly NetFault[], readWaitSec: number): string {
  return `#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
up() { cut -d. -f1 /proc/uptime; }
# Prints "net-test: $1 <ok|failed (error)> after N s" when the read returns, or
# "net-test: $1 blocked for N s" when it has not after ${readWaitSec} s (left running).
await_read() {
	while [ ! -e /tmp/read.done ] && [ $(($(up) - t0)) -lt ${readWaitSec} ]; do sleep 1; done
	if [ -e /tmp/read.done ]; then
		blocked=no
		echo "net-test: $1 $(cat /tmp/read.done) after $(($(up) - t0)) s"
	else
		blocked=yes
		echo "net-test: $1 blocked for $(($(up) - t0)) s"
	fi
}
timed_read() {
	rm -f /tmp/read.done
	t0=$(up)
	(
		if cat "$2" >/dev/null 2>/tmp/read.err; then r=ok; else r="failed ($(tail -n 1 /tmp/read.err))"; fi
		echo "$r" >/tmp/read.tmp && mv /tmp/read.tmp /tmp/read.done
	) &
	await_read "$1"
}
echo "net-test: lower $(awk '$2 == "/run/flashroot/lower" { print $1, $3 }' /proc/mounts)"
echo "net-test: fidelity chain=$(readlink -f /srv/chain-1) links=$(stat -c %h /srv/hl-1) suid=$(stat -c %a /srv/suid) owner=$(stat -c %u:%g:%a /srv/owned)"
echo "net-test: ssh key $([ -e /run/flashroot/rt/etc/flashroot/ssh/id ] && echo visible || echo hidden)"
echo "net-test: runtime root $([ -e /run/flashroot/rt/etc ] && echo visible || echo hidden)"
echo "net-test: nic driver $(basename "$(readlink /sys/class/net/eth0/device/driver)"); stick mounts $(grep -c ' vfat ' /proc/mounts)"
echo "net-test: command lines naming the secret: $(grep -l -a -e '${NET_SECRET.slice(0, -1)}[${NET_SECRET.slice(-1)}]' /proc/[0-9]*/cmdline 2>/dev/null | wc -l)"
echo "${NET_BOOTED}"
sleep 3
echo "net-test: big-a $(sha256sum /srv/big-a | cut -d' ' -f1)"
${faults.map((f) => PHASES[f]).join('')}echo "${NET_DONE}"
sync
poweroff -f
`;
}

export interface NetRoot {
  dir: string;
  bigA: Buffer;
}

export interface NetRootOptions {
  /** Fault phases the init runs, in order (default: stop, then start again). */
  faults?: readonly NetFault[];
  /** Seconds the init waits for a read before it reports it as blocked (default READ_WAIT_SEC). */
  readWaitSec?: number;
}

export async function makeNetRoot(dir: string, o: NetRootOptions = {}): Promise<NetRoot> {
  const faults = o.faults ?? ['stop'];
  await makeDemoRoot(dir);
  const srv = join(dir, 'srv');
  await mkdir(srv);
  const bigA = randomBytes(BIG_FILE_BYTES);
  await writeFile(join(srv, 'big-a'), bigA);
  await writeFile(join(srv, 'big-b'), randomBytes(BIG_FILE_BYTES));
  if (faults.includes('stall')) await writeFile(join(srv, 'big-c'), randomBytes(BIG_FILE_BYTES));
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
  await writeFile(join(dir, NET_INIT), init(faults, o.readWaitSec ?? READ_WAIT_SEC), { mode: 0o755 });
  return { dir, bigA };
}
