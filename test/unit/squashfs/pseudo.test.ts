import { describe, expect, it } from 'vitest';
import { pseudoDefinitions, replacedPaths } from '../../../src/squashfs/pseudo.js';

describe('pseudo file definitions', () => {
  const files = [
    { kind: 'file' as const, path: 'etc/fstab', content: 'new\n', replaces: true, mode: 0o644, uid: 0, gid: 0 },
    { kind: 'dir' as const, path: '/etc/systemd/system/ssh.service.d', mode: 0o755, uid: 0, gid: 0 },
    { kind: 'file' as const, path: 'etc/machine-id', content: '', replaces: false, mode: 0o444, uid: 0, gid: 0 },
  ];

  it('read each file back from its own data file, with its owner and mode', () => {
    const { text, data } = pseudoDefinitions(files, "/tmp/it's here");
    expect(text.split('\n')).toEqual([
      "etc/fstab f 0644 0 0 cat '/tmp/it'\\''s here/0'",
      'etc/systemd/system/ssh.service.d d 0755 0 0',
      "etc/machine-id f 0444 0 0 cat '/tmp/it'\\''s here/1'",
      '',
    ]);
    expect(data.map((d) => d.content)).toEqual(['new\n', '']);
  });

  it('name the source paths that must be excluded for a pseudo file to win', () => {
    expect(replacedPaths(files)).toEqual(['etc/fstab']);
  });

  it('refuse names mksquashfs would split', () => {
    expect(() => pseudoDefinitions([{ ...files[1]!, path: 'etc/a b' }], '/tmp')).toThrow(/quoting/);
  });
});
