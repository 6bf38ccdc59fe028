import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFidelity, sshfsFidelity } from '../../../src/network/fidelity.js';
import { run } from '../../../src/util/run.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fidelity-'));
  await mkdir(join(root, 'etc'));
  await mkdir(join(root, 'run'));
  await writeFile(join(root, 'etc/a'), 'a');
  await link(join(root, 'etc/a'), join(root, 'etc/b'));
  await symlink('a', join(root, 'etc/c'));
  await run('mkfifo', [join(root, 'etc/pipe')]);
  // Under a volatile directory: emptied at capture, so not reported.
  await run('mkfifo', [join(root, 'run/ignored')]);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('what sshfs will not reproduce of a tree', () => {
  it('lists hard links and special files with examples, not symlinks or volatile directories', async () => {
    const losses = await sshfsFidelity(root);
    expect(losses.map((l) => [l.count, l.examples])).toEqual([
      [2, ['/etc/a', '/etc/b']],
      [1, ['/etc/pipe']],
    ]);
    const text = formatFidelity(losses).join('\n');
    expect(text).toContain('2 × hard links');
    expect(text).toContain('extended attributes');
  });

  it('says so when nothing is lost', async () => {
    const clean = await mkdtemp(join(tmpdir(), 'fidelity-clean-'));
    await writeFile(join(clean, 'x'), 'x');
    expect(formatFidelity(await sshfsFidelity(clean))[0]).toContain('nothing in this tree that sshfs loses');
    await rm(clean, { recursive: true });
  });
});
