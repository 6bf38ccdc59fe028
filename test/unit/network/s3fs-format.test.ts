import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3fsObject } from '../../../src/network/s3fs.js';
import { walkRoot, type TreeEntry } from '../../../src/root/walk.js';
import { run } from '../../../src/util/run.js';

let root: string;
let entries: Map<string, TreeEntry>;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 's3fs-format-'));
  await mkdir(join(root, 'etc'), { mode: 0o755 });
  await writeFile(join(root, 'etc/hostname'), 'box\n', { mode: 0o640 });
  await utimes(join(root, 'etc/hostname'), 1000, 981173106.789);
  await symlink('/etc/hostname', join(root, 'etc/link'));
  await run('mknod', [join(root, 'etc/null'), 'c', '1', '3']);
  await run('mkfifo', [join(root, 'etc/pipe')]);
  await mkdir(join(root, 'proc'));
  await writeFile(join(root, 'proc/left-behind'), 'x');
  entries = new Map<string, TreeEntry>();
  for await (const e of walkRoot(root)) entries.set(e.path, e);
});
afterAll(() => rm(root, { recursive: true, force: true }));

const object = (path: string) => s3fsObject('roots/v1/', entries.get(path) as TreeEntry);

describe("a root tree in s3fs's object format", () => {
  it('walks volatile directories as empty mount points', () => {
    expect([...entries.keys()]).toEqual(['/etc', '/etc/hostname', '/etc/link', '/etc/null', '/etc/pipe', '/proc']);
  });

  it('stores a directory as an empty PREFIX/path/ object with its mode (type bits included) and owner', async () => {
    const o = await object('/etc');
    expect(o).toMatchObject({ key: 'roots/v1/etc/', contentType: 'application/x-directory', body: { data: Buffer.alloc(0) } });
    expect(o?.meta['x-amz-meta-mode']).toBe(String(0o40755));
    expect(o?.meta['x-amz-meta-uid']).toBe(String(process.getuid?.()));
  });

  it('stores a file by reference with its mode and its mtime to the nanosecond', async () => {
    const o = await object('/etc/hostname');
    expect(o).toMatchObject({ key: 'roots/v1/etc/hostname', body: { file: join(root, 'etc/hostname'), bytes: 4 } });
    expect(o?.meta['x-amz-meta-mode']).toBe(String(0o100640));
    expect(o?.meta['x-amz-meta-mtime']).toMatch(/^981173106\.789\d{6}$/);
  });

  it('stores a symlink as its target and a FIFO as an empty object; leaves device nodes out', async () => {
    const link = await object('/etc/link');
    expect(link?.meta['x-amz-meta-mode']).toBe(String(0o120777));
    expect(link?.body).toEqual({ data: Buffer.from('/etc/hostname') });
    const fifo = await object('/etc/pipe');
    expect(Number(fifo?.meta['x-amz-meta-mode']) & 0o170000).toBe(0o010000);
    expect(await object('/etc/null')).toBeUndefined();
  });
});
