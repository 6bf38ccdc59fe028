import { mkdtemp, readFile, readlink, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCpio } from '../../../src/initramfs/cpio.js';
import { run } from '../../../src/util/run.js';

describe('writeCpio', () => {
  const entries = [
    { kind: 'file' as const, path: 'bin/tool', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
    { kind: 'symlink' as const, path: 'bin/alias', target: 'tool' },
    { kind: 'file' as const, path: '/etc/conf', data: Buffer.from('odd length!') },
    { kind: 'dir' as const, path: 'empty' },
  ];

  it('round-trips through GNU cpio: names, contents, modes, symlinks, implied parents', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cpio-'));
    const archive = writeCpio(entries);
    const { stdout } = await run('cpio', ['-t', '--quiet'], { input: archive });
    expect(stdout.trim().split('\n')).toEqual(['bin', 'bin/alias', 'bin/tool', 'empty', 'etc', 'etc/conf']);
    await run('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], { input: archive, cwd: dir });
    expect(await readFile(join(dir, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect((await stat(join(dir, 'bin/tool'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dir, 'etc/conf'))).mode & 0o777).toBe(0o644);
    expect(await readlink(join(dir, 'bin/alias'))).toBe('tool');
    expect(await readFile(join(dir, 'etc/conf'), 'utf8')).toBe('odd length!');
  });

  it('is deterministic and ends with the trailer, 4-byte aligned', () => {
    const a = writeCpio(entries, 42);
    expect(a.equals(writeCpio([...entries].reverse(), 42))).toBe(true);
    expect(a.length % 4).toBe(0);
    expect(a.subarray(-140).toString('latin1')).toContain('TRAILER!!!');
    // mtime is the 6th 8-hex-digit field after the magic (ino, mode, uid, gid, nlink, mtime).
    expect(a.subarray(6 + 5 * 8, 6 + 6 * 8).toString()).toBe((42).toString(16).padStart(8, '0'));
  });

  it('rejects paths that escape and two entries at one path', () => {
    expect(() => writeCpio([{ kind: 'dir', path: '../x' }])).toThrow(/invalid cpio path/);
    expect(() =>
      writeCpio([
        { kind: 'file', path: 'a', data: Buffer.alloc(1) },
        { kind: 'symlink', path: 'a', target: 'b' },
      ]),
    ).toThrow(/duplicate/);
  });
});
