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

describe('build options: a signed channel', () => {
  const dir = 'http://boot.example/images/';
  it('takes --channel with --trust and an image lower that is a directory, over http, https and s3', () => {
    expect(problems({ lower: dir, channel: 'stable', trust: 'fleet.pub' })).toEqual([]);
    expect(problems({ lower: 'https://boot.example/images/', channel: 'beta-2', trust: 'fleet.pub' })).toEqual([]);
    expect(problems({ lower: 's3://boot/sticks/', endpoint: 'https://s3.example', signedReads: true, channel: 'stable', trust: 'fleet.pub' })).toEqual([]);
  });

  it('refuses one without the other, a lower that names an image or is no image, and a bad name', () => {
    expect(problems({ lower: dir, channel: 'stable' })).toEqual(['- --channel and --trust: give both (the stick boots what the channel names only when signed by the --trust key) or neither']);
    expect(problems({ lower: dir, trust: 'fleet.pub' })).toHaveLength(1);
    expect(problems({ lower: `${dir}root-${'a'.repeat(64)}.sqfs`, channel: 'stable', trust: 'k.pub' })).toEqual([
      `- --channel: --lower must be the channel's directory, ending in / (the manifest names the image), not ${dir}root-${'a'.repeat(64)}.sqfs`,
    ]);
    expect(problems({ channel: 'stable', trust: 'k.pub' })[0]).toMatch(/--channel: only with an image lower/);
    expect(problems({ lower: 'sshfs://u@h/srv', sshKey: 'k', channel: 'stable', trust: 'k.pub' })[0]).toMatch(/--channel: only with an image lower/);
    expect(problems({ lower: dir, channel: 'Stable/../x', trust: 'k.pub' })[0]).toMatch(/^- --channel: must be 1-63 characters/);
  });
});

describe('build options: the on-stick copy of a channel (--offline-copy)', () => {
  const channel = { lower: 'http://boot.example/images/', channel: 'stable', trust: 'fleet.pub' };
  it('takes the flag alone (a size derived from the image) or a size', () => {
    expect(parseBuildOptions({ ...channel, offlineCopy: true }).offlineCopy).toEqual({ bytes: undefined });
    expect(parseBuildOptions({ ...channel, offlineCopy: '512MiB' }).offlineCopy).toEqual({ bytes: 512 * 2 ** 20 });
    expect(parseBuildOptions(channel).offlineCopy).toBeUndefined();
  });
  it('refuses it without a channel, an unreadable size and one too small for two slots, all at once', () => {
    expect(problems({ offlineCopy: true })).toEqual(['- --offline-copy: only with --channel (the copy is of the last version the channel named, checked by its signature at each boot from it)']);
    expect(problems({ ...channel, offlineCopy: 'lots' })).toEqual(['- --offline-copy: must be a size like 512MiB (or no value: room for two copies of twice this image)']);
    expect(problems({ ...channel, offlineCopy: '8MiB', label: 'lower case' })).toEqual([
      expect.stringMatching(/^- --label: /),
      '- --offline-copy: must be at least 12MiB (a 4 MiB erase block for the superblock and one per copy slot)',
    ]);
  });
});

