import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { ENDURANCE_DEFAULTS } from '../../../src/endurance/defaults.js';
import { DEFAULT_ERASE_BLOCK_BYTES, DEFAULT_PAGE_BYTES, DEFAULT_RW_WRITE_BYTES } from '../../../src/endurance/model.js';
import { parseEnduranceOptions } from '../../../src/endurance/options.js';
import { formatDecimalBytes, formatYears, parseHours, parseSize } from '../../../src/util/units.js';

describe('parseSize', () => {
  it('K/M/G/T are powers of 1000, Ki/Mi/Gi powers of 1024', () => {
    expect(parseSize('32G', 'x')).toBe(32e9);
    expect(parseSize('1.5T', 'x')).toBe(1.5e12);
    expect(parseSize('4KiB', 'x')).toBe(4096);
    expect(parseSize('2gib', 'x')).toBe(2 * 2 ** 30);
    expect(parseSize('512', 'x')).toBe(512);
    expect(parseSize('64MB', 'x')).toBe(64e6);
  });
  it('names the flag and shows the accepted forms', () => {
    expect(() => parseSize('lots', '--capacity')).toThrow(UsageError);
    expect(() => parseSize('-3G', '--capacity')).toThrow(/--capacity: cannot read '-3G'/);
    expect(() => parseSize('3X', '--capacity')).toThrow(/size/);
  });
});

describe('parseHours', () => {
  it('reads minutes, hours and days', () => {
    expect(parseHours('30m', 'x')).toBe(0.5);
    expect(parseHours('6h', 'x')).toBe(6);
    expect(parseHours('6', 'x')).toBe(6);
    expect(parseHours('90d', 'x')).toBe(2160);
    expect(() => parseHours('soon', '--save-every')).toThrow(/--save-every/);
  });
});

describe('formatting', () => {
  it('decimal bytes and years', () => {
    expect(formatDecimalBytes(0)).toBe('0 B');
    expect(formatDecimalBytes(888.889e9)).toBe('889 GB');
    expect(formatDecimalBytes(24e12)).toBe('24.0 TB');
    expect(formatDecimalBytes(2e9)).toBe('2.00 GB');
    expect(formatYears(1.2168)).toBe('1.2');
    expect(formatYears(0.0438)).toBe('0.04');
    expect(formatYears(32.85)).toBe('33');
    expect(formatYears(Infinity)).toBe('>1000');
  });
});

describe('endurance options', () => {
  it('applies the defaults, which match the cited model constants', () => {
    const o = parseEnduranceOptions({ capacity: '32G', ...ENDURANCE_DEFAULTS });
    expect(o).toMatchObject({ capacity: 32e9, nand: 'tlc', waf: undefined, minutes: 1, json: false });
    expect(o.page).toBe(DEFAULT_PAGE_BYTES);
    expect(o.eraseBlock).toBe(DEFAULT_ERASE_BLOCK_BYTES);
    expect(o.writeSize).toBe(DEFAULT_RW_WRITE_BYTES);
    expect(o.reflashEvery).toBe(90 * 24);
  });
  it('reports every bad setting at once', () => {
    let err: unknown;
    try {
      parseEnduranceOptions({ capacity: 'big', nand: 'plc', waf: '0.3', pe: '-5', minutes: 'x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as Error).message;
    for (const what of ['capacity', '--nand must be one of', "--waf must be 'auto'", '--pe must be positive', 'minutes']) expect(msg).toContain(what);
  });
  it('says an unreadable size once, naming the flag once, with the size hint', () => {
    let err: unknown;
    try {
      parseEnduranceOptions({ capacity: 'banana' });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toBe("Invalid endurance settings:\n- --capacity: cannot read 'banana' as a size.");
    expect((err as UsageError).hint).toMatch(/^Write a number with an optional unit/);
  });
  it('refuses a zero capacity before the model runs', () => {
    expect(() => parseEnduranceOptions({ capacity: '0' })).toThrow(/--capacity must be more than 0/);
  });
  it('reads a fixed WAF', () => {
    expect(parseEnduranceOptions({ capacity: '8G', waf: '2.5' }).waf).toBe(2.5);
  });
});
