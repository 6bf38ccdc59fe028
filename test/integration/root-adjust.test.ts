import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARTITION_START } from '../../src/disk/image.js';
import { build, type BuildResult } from '../../src/pipeline/build.js';

import type { BuildOptionsInput } from '../../src/pipeline/options.js';
import { planStickRoot } from '../../src/root/adjust.js';
import { captureRoot } from '../../src/root/capture.js';
import { makeDemoRoot } from '../../src/root/demo-root.js';
import { makeSquashfs } from '../../src/squashfs/mksquashfs.js';
import { writePseudoFile } from '../../src/squashfs/pseudo.js';
import { Reporter } from '../../src/util/log.js';
import { run } from '../../src/util/run.js';

// A root that looks installed: an fstab naming the disk it was installed on, a swapfile, apt's
// cache, an identity (machine-id, a D-Bus copy of it, SSH host keys), fsck's lost+found.
const MACHINE_ID = '0123456789abcdef0123456789abcdef\n';
const SWAP_BYTES = 2 * 1024 * 1024;
const DEB_BYTES = 300 * 1024;
const FSTAB = [
  '# /etc/fstab: static file system information.',
  'UUID=0a3c5e1f-1111-4c2d-9e0f-1234567890ab /               ext4    errors=remount-ro 0       1',
  'UUID=ABCD-1234  /boot/efi       vfat    umask=0077      0       1',
  '/swapfile none swap sw 0 0',
  'nas.local:/export/media /srv/media nfs4 ro,_netdev 0 0',
  'tmpfs /var/cache/build tmpfs size=64M 0 0',
  '',
].join('\n');

let work: string;
let root: string;
let before: string;
let mounted = false;

/** Every entry's path, type, mode, owner, size, mtime, link target and content hash. */
async function fingerprint(dir: string, rel = ''): Promise<string> {
  const lines: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const path = `${rel}/${name}`;
    const st = await lstat(join(dir, path), { bigint: true });
    let what = '';
    if (st.isSymbolicLink()) what = await readlink(join(dir, path));
    else if (st.isFile()) what = createHash('sha256').update(await readFile(join(dir, path))).digest('hex');
    lines.push(`${path} ${st.mode} ${st.uid}:${st.gid} ${st.size} ${st.mtimeNs} ${what}`);
    if (st.isDirectory()) lines.push(await fingerprint(dir, path));
  }
  return lines.join('\n');
}

async function squashfsOf(r: BuildResult): Promise<string> {
  const out = join(await mkdtemp(join(work, 'sqfs-')), 'root.sqfs');
  await run('mcopy', ['-i', `${r.image}@@${PARTITION_START}`, `::${r.squashfsPath}`, out]);
  return out;
}

async function listing(sqfs: string): Promise<string[]> {
  const { stdout } = await run('unsquashfs', ['-l', '-d', '', sqfs]);
  return stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/'));
}

async function cat(sqfs: string, path: string): Promise<string> {
  return (await run('unsquashfs', ['-cat', sqfs, path])).stdout;
}

async function buildRoot(opts: BuildOptionsInput): Promise<BuildResult> {
  const out = join(await mkdtemp(join(work, 'img-')), 'stick.img');
  return build({ root, out, menuTimeout: 0, reproducible: true, ...opts }, new Reporter(true));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'root-adjust-'));
  root = join(work, 'root');
  await makeDemoRoot(root);
  const files: Record<string, string | Buffer> = {
    'etc/fstab': FSTAB,
    'etc/machine-id': MACHINE_ID,
    'var/lib/dbus/machine-id': MACHINE_ID,
    'etc/ssh/ssh_host_ed25519_key': 'fake private host key\n',
    'etc/ssh/ssh_host_ed25519_key.pub': 'ssh-ed25519 AAAAfake root@box\n',
    'etc/ssh/sshd_config': 'PermitRootLogin no\n',
    'usr/sbin/sshd': '#!/bin/sh\n',
    'lib/systemd/systemd': '#!/bin/sh\n',
    swapfile: Buffer.alloc(SWAP_BYTES, 1),
    'var/cache/apt/archives/vim_9.0_amd64.deb': Buffer.alloc(DEB_BYTES, 2),
    'var/cache/apt/archives/lock': '',
    'var/cache/apt/pkgcache.bin': Buffer.alloc(4096, 3),
    'var/tmp/leftover': 'x',
    'var/tmp/.hidden-leftover': 'y',
    'lost+found/#1234': 'salvaged',
    'home/user/big.iso': Buffer.alloc(8192, 4),
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  await symlink('/proc/self/mounts', join(root, 'etc/mtab'));
  // A separate /home, as --include-mount is for.
  await mkdir(join(root, 'mnt/home'), { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', join(root, 'mnt/home')]);
  mounted = true;
  await mkdir(join(root, 'mnt/home/lost+found'));
  await writeFile(join(root, 'mnt/home/notes.txt'), 'on another filesystem');
  before = await fingerprint(root);
}, 60_000);

afterAll(async () => {
  if (mounted) await run('umount', [join(root, 'mnt/home')]);
});

describe('the root as the booted system sees it', () => {
  let kept: BuildResult;
  let sqfs: string;

  beforeAll(async () => {
    kept = await buildRoot({ exclude: ['/home/*/*.iso'] });
    sqfs = await squashfsOf(kept);
  }, 120_000);

  it('carries an fstab with the local disks and the swapfile commented out, the NFS share and tmpfs kept', async () => {
    const fstab = await cat(sqfs, 'etc/fstab');
    expect(fstab).toContain('#UUID=0a3c5e1f-1111-4c2d-9e0f-1234567890ab /               ext4');
    expect(fstab).toContain('#UUID=ABCD-1234  /boot/efi');
    expect(fstab).toContain('#/swapfile none swap sw 0 0');
    expect(fstab).toMatch(/^nas\.local:\/export\/media \/srv\/media nfs4 ro,_netdev 0 0$/m);
    expect(fstab).toMatch(/^tmpfs \/var\/cache\/build tmpfs size=64M 0 0$/m);
    expect(fstab.match(/^# flashroot: /gm)).toHaveLength(3);
  });

  it('leaves out the swapfile, apt’s cache, /var/tmp’s contents, lost+found and what --exclude names', async () => {
    const paths = await listing(sqfs);
    for (const gone of ['/swapfile', '/var/cache/apt/archives/vim_9.0_amd64.deb', '/var/cache/apt/pkgcache.bin', '/var/tmp/leftover', '/var/tmp/.hidden-leftover', '/lost+found', '/home/user/big.iso', '/mnt/home/notes.txt']) {
      expect(paths).not.toContain(gone);
    }
    for (const stays of ['/var/tmp', '/var/cache/apt/archives/lock', '/mnt/home', '/etc/mtab', '/sbin/init']) expect(paths).toContain(stays);
  });

  it('keeps the identity by default: machine-id and host keys as they were', async () => {
    expect(await cat(sqfs, 'etc/machine-id')).toBe(MACHINE_ID);
    expect(await cat(sqfs, 'etc/ssh/ssh_host_ed25519_key')).toBe('fake private host key\n');
  });

  it('reports every adjustment with its reason and the bytes it saved', () => {
    const by = Object.fromEntries(kept.adjustments.map((a) => [a.rule, a]));
    expect(by.fstab).toMatchObject({ action: 'rewritten', paths: ['/etc/fstab'] });
    expect(by.fstab?.details).toHaveLength(3);
    expect(by['swap-files']).toMatchObject({ action: 'left out', paths: ['/swapfile'], bytes: SWAP_BYTES });
    expect(by['apt-archives']).toMatchObject({ paths: ['/var/cache/apt/archives/vim_9.0_amd64.deb'], bytes: DEB_BYTES });
    expect(by['apt-pkgcache']?.bytes).toBe(4096);
    expect(by['var-tmp']).toMatchObject({ paths: ['/var/tmp/.hidden-leftover', '/var/tmp/leftover'], bytes: 2 });
    expect(by['lost-found']?.bytes).toBe('salvaged'.length);
    expect(by.exclude).toMatchObject({ paths: ['/home/user/big.iso'], bytes: 8192, why: 'asked for with --exclude' });
    for (const a of kept.adjustments) expect(a.why.length).toBeGreaterThan(10);
  });

  it('makes a master image with --identity reset: empty machine-id, no host keys, keys made at boot, reproducibly', async () => {
    const reset = await buildRoot({ identity: 'reset' });
    const again = await buildRoot({ identity: 'reset' });
    expect(again.squashfsSha256).toBe(reset.squashfsSha256);
    const s = await squashfsOf(reset);
    const paths = await listing(s);
    expect(paths).toContain('/etc/machine-id');
    expect(await cat(s, 'etc/machine-id')).toBe('');
    for (const gone of ['/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ed25519_key.pub', '/var/lib/dbus/machine-id']) expect(paths).not.toContain(gone);
    expect(paths).toContain('/etc/ssh/sshd_config');
    expect(await cat(s, 'etc/systemd/system/flashroot-ssh-host-keys.service')).toMatch(/^ExecStart=\/usr\/bin\/ssh-keygen -A$/m);
    expect(await cat(s, 'etc/systemd/system/ssh.service.d/flashroot-host-keys.conf')).toMatch(/^After=flashroot-ssh-host-keys\.service$/m);
    const rules = reset.adjustments.map((a) => `${a.rule} ${a.action}`);
    expect(rules).toEqual(expect.arrayContaining(['machine-id emptied', 'ssh-host-keys left out', 'dbus-machine-id left out', 'ssh-host-keys-at-boot added']));
  }, 180_000);

  it('captures a filesystem mounted below the root with --include-mount, without its lost+found', async () => {
    const captured = await captureRoot(root, '/sbin/init', [], ['/mnt/home']);
    const plan = await planStickRoot(captured, 'keep', []);
    const dir = await mkdtemp(join(work, 'pf-'));
    const out = join(dir, 'root.sqfs');
    await makeSquashfs({ source: root, output: out, compressor: 'zstd', excludes: plan.excludes, pseudoFile: await writePseudoFile(plan.pseudo, dir) });
    const paths = await listing(out);
    expect(paths).toContain('/mnt/home/notes.txt');
    expect(paths).not.toContain('/mnt/home/lost+found');
    await expect(captureRoot(root, '/sbin/init', [], ['/home'])).rejects.toThrow(/no filesystem is mounted at \/home/);
  }, 60_000);

  it('never changes the source', async () => {
    expect(await fingerprint(root)).toBe(before);
  });
});
