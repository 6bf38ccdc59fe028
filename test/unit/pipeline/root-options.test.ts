import { describe, expect, it } from 'vitest';
import { parseBuildOptions } from '../../../src/pipeline/options.js';

describe('root adjustment options', () => {
  it('default to keeping the identity and no extra excludes', () => {
    expect(parseBuildOptions({ root: '/srv/r' })).toMatchObject({ identity: 'keep', exclude: [], includeMount: [] });
  });

  it('normalise exclude patterns to the root', () => {
    expect(parseBuildOptions({ root: '/srv/r', exclude: ['/home/*/.cache/', 'var//log/*.gz'] }).exclude).toEqual(['home/*/.cache', 'var/log/*.gz']);
  });

  it('report every bad value at once, naming it', () => {
    let message = '';
    try {
      parseBuildOptions({ root: '/srv/r', exclude: ['ok', '../etc', '/'], includeMount: ['home'], identity: 'forget' as 'keep' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("--exclude '../etc': patterns are relative to the root");
    expect(message).toContain("--exclude '/': an empty pattern");
    expect(message).toContain("--include-mount 'home': must be an absolute path");
    expect(message).toMatch(/--identity: .*'keep' \| 'reset'/);
  });

  it('refuse them for the demo root', () => {
    expect(() => parseBuildOptions({ demo: true, exclude: ['x'], identity: 'reset' })).toThrow(/--exclude: only with --root[\s\S]*--identity: only with --root/);
  });
});
