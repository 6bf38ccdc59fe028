import { access, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '../../bin/flashroot.js');

describe('Ctrl-C during flashroot build', () => {
  it('exits 130, says so, and leaves neither the image nor its temporary files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'interrupt-'));
    const child = execa(process.execPath, [CLI, 'build', '--demo', '--out', join(dir, 'demo.img')], { reject: false });
    let workDir: string | undefined;
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      workDir ??= /Compressing the root \((\/\S+)\/demo-root\)/.exec(text)?.[1];
      if (text.includes('==> Building the initramfs')) child.kill('SIGINT');
    });
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toContain('flashroot: interrupted (SIGINT); temporary files removed, no image written');
    expect(await readdir(dir)).toEqual([]);
    expect(workDir).toBeDefined();
    await expect(access(workDir!)).rejects.toThrow(/ENOENT/);
  });
});
