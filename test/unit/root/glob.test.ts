import { describe, expect, it } from 'vitest';
import { contentsOf, globEscape, matchComponent, normalisePattern } from '../../../src/root/glob.js';

describe('exclude patterns as mksquashfs -wildcards reads them', () => {
  it('matches * ? and [] within one component', () => {
    expect(matchComponent('*.deb', 'vim_9.0_amd64.deb')).toBe(true);
    expect(matchComponent('*.deb', 'lock')).toBe(false);
    expect(matchComponent('ssh_host_*', 'ssh_host_ed25519_key.pub')).toBe(true);
    expect(matchComponent('file?', 'file1')).toBe(true);
    expect(matchComponent('[ab]x', 'bx')).toBe(true);
    expect(matchComponent('[!ab]x', 'bx')).toBe(false);
  });

  it('never lets a wildcard match a leading dot (FNM_PERIOD), so contents need two patterns', () => {
    expect(matchComponent('*', '.hidden')).toBe(false);
    expect(matchComponent('.*', '.hidden')).toBe(true);
    expect(contentsOf('var/tmp')).toEqual(['var/tmp/*', 'var/tmp/.*']);
  });

  it('escapes paths so they match only themselves', () => {
    expect(globEscape('srv/a[1]*')).toBe('srv/a\\[1\\]\\*');
    expect(matchComponent(globEscape('a[1]*'), 'a[1]*')).toBe(true);
    expect(matchComponent(globEscape('a[1]*'), 'a1x')).toBe(false);
  });

  it('reads a leading / as the root and drops empty components', () => {
    expect(normalisePattern('/var//log/*.gz/')).toBe('var/log/*.gz');
    expect(normalisePattern('/')).toBe('');
  });
});
