import { createServer, type Server } from 'node:net';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFidelity, treeFidelity } from '../../../src/network/fidelity.js';
import { run } from '../../../src/util/run.js';

let root: string;
let socket: Server;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fidelity-'));
  await mkdir(join(root, 'etc'));
  await mkdir(join(root, 'run'));
  await writeFile(join(root, 'etc/a'), 'a');
  await link(join(root, 'etc/a'), join(root, 'etc/b'));
  await symlink('a', join(root, 'etc/c'));
  await run('mkfifo', [join(root, 'etc/pipe')]);
  await run('mknod', [join(root, 'etc/null'), 'c', '1', '3']);
  socket = createServer();
  await new Promise<void>((resolve) => socket.listen(join(root, 'etc/sock'), resolve));
  // Under a volatile directory: emptied at capture, so not reported.
  await run('mkfifo', [join(root, 'run/ignored')]);
});
afterAll(async () => {
  await new Promise((resolve) => socket.close(resolve));
  await rm(root, { recursive: true, force: true });
});

describe('what a file-level lower will not reproduce of a tree', () => {
  it('sshfs: hard links and special files (FIFOs included) with examples, not symlinks or volatile directories', async () => {
    const losses = await treeFidelity(root, 'sshfs');
    expect(losses.map((l) => [l.count, l.examples])).toEqual([
      [2, ['/etc/a', '/etc/b']],
      [3, ['/etc/null', '/etc/pipe', '/etc/sock']],
    ]);
    const text = formatFidelity(losses, 'sshfs').join('\n');
    expect(text).toContain('sshfs will not reproduce');
    expect(text).toContain('2 × hard links');
    expect(text).toContain('sshfs also drops extended attributes');
  });

  it('s3fs: hard links and device nodes, but FIFOs survive (the kernel makes the pipe)', async () => {
    const losses = await treeFidelity(root, 's3fs');
    expect(losses.map((l) => [l.count, l.examples])).toEqual([
      [2, ['/etc/a', '/etc/b']],
      [1, ['/etc/null']],
      [1, ['/etc/sock']],
    ]);
    const text = formatFidelity(losses, 's3fs').join('\n');
    expect(text).toContain('each name is its own object');
    expect(text).toContain('publish leaves them out');
    expect(text).toContain('s3fs also drops extended attributes');
  });

  it('says so when nothing is lost', async () => {
    const clean = await mkdtemp(join(tmpdir(), 'fidelity-clean-'));
    await writeFile(join(clean, 'x'), 'x');
    expect(formatFidelity(await treeFidelity(clean, 'sshfs'), 'sshfs')[0]).toContain('nothing in this tree that sshfs loses');
    expect(formatFidelity(await treeFidelity(clean, 's3fs'), 's3fs')[0]).toContain('nothing in this tree that s3fs loses');
    await rm(clean, { recursive: true });
  });
});
