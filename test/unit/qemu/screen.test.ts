import { describe, expect, it } from 'vitest';
import { keysFor, vgaRows } from '../../../src/qemu/screen.js';

describe('the emulated screen and keyboard', () => {
  it('reads VGA text cells as rows of 80 characters, attributes dropped', () => {
    const mem = Buffer.alloc(80 * 2 * 3);
    [...'flashroot: FAIL'].forEach((c, i) => {
      mem[160 + i * 2] = c.charCodeAt(0);
      mem[160 + i * 2 + 1] = 0x07;
    });
    mem[320] = 0xc4; // a box-drawing character
    expect(vgaRows(mem)).toEqual(['', 'flashroot: FAIL', '?']);
  });

  it('types what a shell command needs, shifted characters as chords', () => {
    expect([...'echo $((6*7))\n'].map(keysFor)).toEqual([
      ['e'], ['c'], ['h'], ['o'], ['spc'], ['shift', '4'], ['shift', '9'], ['shift', '9'], ['6'], ['shift', '8'], ['7'], ['shift', '0'], ['shift', '0'], ['ret'],
    ]);
    expect(keysFor('_')).toEqual(['shift', 'minus']);
    expect(keysFor('T')).toEqual(['shift', 't']);
    expect(() => keysFor('é')).toThrow(/cannot type/);
  });
});
