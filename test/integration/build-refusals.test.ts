import { chmod, mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '../../bin/flashroot.js');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'refusals-'));
  await mkdir(join(dir, 'no-init/sbin'), { recursive: true });
  await mkdir(join(dir, 'not-exec/sbin'), { recursive: true });
  await writeFile(join(dir, 'not-exec/sbin/init'), '#!/bin/sh\n');
  await chmod(join(dir, 'not-exec/sbin/init'), 0o644);
  await mkdir(join(dir, 'modules-without-squashfs'), { recursive: true });
  for (const f of ['modules.dep', 'modules.alias', 'modules.builtin', 'modules.softdep', 'modules.order']) {
    await writeFile(join(dir, 'modules-without-squashfs', f), '');
  }
  await writeFile(join(dir, 'modules-without-squashfs/modules.dep'), 'kernel/fs/overlayfs/overlay.ko:\nkernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\nkernel/fs/fat/fat.ko:\nkernel/drivers/block/loop.ko:\n');
  await writeFile(join(dir, 'not-a-kernel'), 'hello\n');
});

async function flashroot(args: string[], env: Record<string, string> = {}) {
  const out = join(dir, 'out.img');
  const r = await execa(process.execPath, [CLI, 'build', '--out', out, ...args], { reject: false, env, extendEnv: true });
  const images = (await readdir(dir)).filter((f) => f.startsWith('out.img'));
  return { ...r, images };
}

describe('flashroot build refuses bad input with a clear error and a hint, and leaves no image', () => {
  it.each([
    ['a root that does not exist', ['--root', '/nonexistent/root'], 3, /root '\/nonexistent\/root' does not exist/],
    ['a root without /sbin/init', ['--root', 'ROOT/no-init'], 3, /has no executable \/sbin\/init/],
    ['a root whose init is not executable', ['--root', 'ROOT/not-exec'], 3, /has no executable \/sbin\/init/],
    ['an --init that is missing', ['--root', 'ROOT/not-exec', '--init', '/bin/nothing'], 3, /has no executable \/bin\/nothing/],
    ['a kernel that does not exist', ['--kernel', '/nonexistent/vmlinuz'], 3, /nonexistent\/vmlinuz/],
    ['a file that is not a kernel', ['--kernel', 'ROOT/not-a-kernel'], 3, /not-a-kernel/],
    ['a modules directory that does not exist', ['--modules', '/nonexistent/modules'], 3, /no modules directory \/nonexistent\/modules/],
    ['a kernel without squashfs', ['--modules', 'ROOT/modules-without-squashfs'], 3, /lacks squashfs/],
    ['a label FAT cannot hold', ['--label', 'my stick'], 2, /--label: must be 1-11 characters/],
    ['an unknown compressor', ['--comp', 'brotli'], 2, /--comp: /],
    ['a size smaller than any image', ['--size', '40M'], 2, /--size: must be at least 65MiB/],
    ['--demo together with --root', ['--demo', '--root', '/'], 2, /--demo and --root: choose one/],
  ])('%s', async (_what, args, code, message) => {
    const r = await flashroot(args.map((a) => a.replace('ROOT', dir)));
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^hint: /m);
    expect(r.exitCode).toBe(code);
    expect(r.images).toEqual([]);
  });

  it('names every missing tool, with the package to install, when tools are absent', async () => {
    const r = await flashroot(['--demo'], { PATH: '/nonexistent' });
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain("Could not find 'mksquashfs', which is required to compress the root filesystem");
    expect(r.stderr).toMatch(/hint: Install them: apt-get install .*squashfs-tools/);
    expect(r.images).toEqual([]);
  });
});
