import { link, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExcludeMeter } from '../../../src/root/exclude-meter.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'meter-'));
  for (const d of ['var/tmp/sub', 'home/a', 'mnt/other', 'data']) await mkdir(join(root, d), { recursive: true });
  await writeFile(join(root, 'var/tmp/x'), Buffer.alloc(100));
  await writeFile(join(root, 'var/tmp/.h'), Buffer.alloc(10));
  await writeFile(join(root, 'var/tmp/sub/y'), Buffer.alloc(1000));
  await link(join(root, 'var/tmp/x'), join(root, 'var/tmp/x-again'));
  await writeFile(join(root, 'home/a/big.iso'), Buffer.alloc(5000));
  await writeFile(join(root, 'mnt/other/file'), Buffer.alloc(7000));
  await symlink('/var/tmp', join(root, 'data/tmp-link'));
});

describe('ExcludeMeter', () => {
  it('sums what a pattern matches, below directories too, each inode once', async () => {
    const m = new ExcludeMeter(root);
    expect(await m.measure(['var/tmp/*'])).toEqual({ paths: ['var/tmp/sub', 'var/tmp/x', 'var/tmp/x-again'], bytes: 1100 });
  });

  it('counts a path only for the first rule that claims it', async () => {
    const m = new ExcludeMeter(root);
    await m.measure(['var/tmp']);
    expect(await m.measure(['var/tmp/*', 'var/tmp/.*'])).toEqual({ paths: [], bytes: 0 });
  });

  it('does not count what is not captured anyway, nor follow symlinks', async () => {
    const m = new ExcludeMeter(root, ['mnt/other']);
    expect((await m.measure(['mnt/other/*'])).bytes).toBe(0);
    expect(await m.measure(['data/tmp-link/*'])).toEqual({ paths: [], bytes: 0 });
    expect(await m.measure(['home/*/*.iso'])).toEqual({ paths: ['home/a/big.iso'], bytes: 5000 });
  });
});
