import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { MIN_IMAGE } from '../../../src/disk/layout.js';
import { parseBuildOptions, savesPolicy, type BuildOptionsInput } from '../../../src/pipeline/options.js';

function problems(input: BuildOptionsInput): string[] {
  try {
    parseBuildOptions(input);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message.split('\n').filter((l) => l.startsWith('- '));
  }
}

describe('build options', () => {
  it('reports a field problem and the rules over the fields that passed, all at once', () => {
    expect(problems({ comp: 'bogus' as 'zstd', upperSize: '300%', demo: true, root: '/', signKey: 'k' })).toEqual([
      expect.stringMatching(/^- --comp: /),
      expect.stringMatching(/^- --upper-size: at most 100% of RAM/),
      '- --demo and --root: choose one',
      '- --sign-key and --sign-cert: give both or neither',
    ]);
  });
  it('does not ask a rule whose field is already wrong', () => {
    // A bad --lower would otherwise also read as "--ssh-key: only used with sshfs".
    expect(problems({ lower: 'sshfs:/nohost', sshKey: 'k' })).toEqual([expect.stringMatching(/^- --lower: /)]);
  });
  it('takes an upper layer of 1-100% of RAM or a fixed size, not more and not 0', () => {
    expect(parseBuildOptions({ upperSize: '100%' }).upperSize).toBe('100%');
    expect(parseBuildOptions({ upperSize: '512M' }).upperSize).toBe('512M');
    expect(problems({ upperSize: '101%' })).toEqual([expect.stringMatching(/--upper-size: at most 100%/)]);
    for (const zero of ['0', '0%', '00M']) expect(problems({ upperSize: zero })).toEqual([expect.stringMatching(/--upper-size: must be more than 0/)]);
  });
  it('refuses a --size no image fits in, whatever the root', () => {
    expect(parseBuildOptions({ size: '65MiB' }).size).toBe(MIN_IMAGE);
    expect(problems({ size: '10M' })).toEqual([expect.stringMatching(/--size: must be at least 65MiB/)]);
    expect(problems({ size: 'big' })).toEqual([expect.stringMatching(/--size: must be a size like 2G/)]);
  });
  it('--persist: absolute paths, a saves area of 64 MiB by default, saving at shutdown and hourly', () => {
    expect(savesPolicy(parseBuildOptions({}))).toBeUndefined();
    expect(savesPolicy(parseBuildOptions({ persist: ['/etc/', '/var/lib/kodi', '/etc'] }))).toEqual({
      persist: ['/etc', '/var/lib/kodi'], bytes: 64 * 2 ** 20, saveAtShutdown: true, saveEvery: 60,
    });
    expect(savesPolicy(parseBuildOptions({ persist: ['/'], persistSize: '32MiB', saveEvery: 0, saveAtShutdown: false }))).toEqual({
      persist: ['/'], bytes: 32 * 2 ** 20, saveAtShutdown: false, saveEvery: 0,
    });
  });
  it('--persist: refuses relative paths, .., a saves area below 16 MiB, a network lower, and its settings without it', () => {
    expect(problems({ persist: ['etc', '/a/../b'] })).toEqual([
      expect.stringMatching(/^- --persist 'etc': must be an absolute path/),
      expect.stringMatching(/^- --persist '\/a\/..\/b': must not contain \.\./),
    ]);
    expect(problems({ persist: ['/etc'], persistSize: '8MiB' })).toEqual([expect.stringMatching(/--persist-size: must be at least 16MiB/)]);
    expect(problems({ persist: ['/etc'], lower: 'http://h/p/' })).toEqual(['- --persist: only with --lower local (saves live on the stick, which a network lower does not mount)']);
    expect(problems({ saveEvery: 30 })).toEqual(['- --persist-size, --save-every: only with --persist PATH']);
  });
});
