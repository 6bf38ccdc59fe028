import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureRoot, resolveInRoot } from '../../src/root/capture.js';
import { makeDemoRoot } from '../../src/root/demo-root.js';
import { makeSquashfs } from '../../src/squashfs/mksquashfs.js';
import { run } from '../../src/util/run.js';

// A live root: a mounted filesystem inside it, junk in the volatile directories, and the build's
// own output lying inside it, as with `flashroot build --root / --out /var/tmp/x.img`.
let root: string;
let mounted = false;

beforeAll(async () => {
  root = join(await mkdtemp(join(tmpdir(), 'live-root-')), 'root');
  await makeDemoRoot(root);
  await mkdir(join(root, 'mnt/data'), { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', join(root, 'mnt/data')]);
  mounted = true;
  await writeFile(join(root, 'mnt/data/other-filesystem'), 'must not be copied');
  await writeFile(join(root, 'proc/junk'), 'x');
  await writeFile(join(root, 'tmp/junk'), 'x');
  await mkdir(join(root, 'var/tmp'), { recursive: true });
  await writeFile(join(root, 'var/tmp/out.img'), 'the image being built');
});

afterAll(async () => {
  if (mounted) await run('umount', [join(root, 'mnt/data')]);
});

describe('capturing a live root', () => {
  it('leaves out other filesystems, volatile contents and the output, keeping empty mount points', async () => {
    const out = join(root, 'var/tmp/out.img');
    const captured = await captureRoot(root, '/sbin/init', [out]);
    const sqfs = join(await mkdtemp(join(tmpdir(), 'sqfs-')), 'root.sqfs');
    await makeSquashfs({ source: captured.dir, output: sqfs, compressor: 'zstd', excludes: captured.excludes });
    const { stdout } = await run('unsquashfs', ['-l', '-d', '', sqfs]);
    const paths = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/'));
    for (const kept of ['/mnt/data', '/proc', '/sys', '/dev', '/run', '/tmp', '/sbin/init', '/var/tmp', '/etc/motd-link']) {
      expect(paths).toContain(kept);
    }
    for (const gone of ['/mnt/data/other-filesystem', '/proc/junk', '/tmp/junk', '/var/tmp/out.img']) {
      expect(paths).not.toContain(gone);
    }
  });

  it('resolves the init through absolute symlinks inside the root, not on the host', async () => {
    expect(await resolveInRoot(root, '/bin/sh')).toBe(join(root, 'bin/busybox'));
    expect(await resolveInRoot(root, '/nonexistent/init')).toBeUndefined();
  });
});
