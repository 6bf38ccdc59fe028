import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  comparisonLoads,
  DEFAULT_ERASE_BLOCK_BYTES,
  DEFAULT_PAGE_BYTES,
  estimate,
  tbwBytes,
  wafRange,
  type FlashSpec,
  type WriteLoad,
} from '../../../src/endurance/model.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const DAYS_PER_YEAR = 365.25;

const stick = (over: Partial<FlashSpec> = {}): FlashSpec => ({
  capacityBytes: 32e9,
  nand: 'tlc',
  pageBytes: 16 * KiB,
  eraseBlockBytes: 4 * MiB,
  ...over,
});
const load = (bytesPerDay: number, meanWriteBytes = 4 * KiB): WriteLoad => ({ id: 'rw', label: 'rw', bytesPerDay, meanWriteBytes, source: 'user' });

describe('tbwBytes (JESD218: capacity × P/E ÷ WAF)', () => {
  it('32 GB × 3000 P/E ÷ WAF 1 = 96 TB', () => {
    // 32e9 × 3000 = 9.6e13 bytes = 96 TB.
    expect(tbwBytes(32e9, 3000, 1)).toBe(96e12);
  });
  it('WAF divides: 32 GB × 3000 ÷ 4 = 24 TB', () => {
    expect(tbwBytes(32e9, 3000, 4)).toBe(24e12);
  });
});

describe('wafRange (grows as writes shrink against page and erase block)', () => {
  it('4 KiB writes on 16 KiB pages and 4 MiB erase blocks: 4 … 36', () => {
    // low:  max(4096, 16384) / 4096 = 4
    // high: (16384 + 4194304 / 32) / 4096 = (16384 + 131072) / 4096 = 147456 / 4096 = 36
    expect(wafRange(4 * KiB, 16 * KiB, 4 * MiB)).toEqual({ low: 4, high: 36 });
  });
  it('a 64 MB sequential save is amplified by almost nothing', () => {
    // low: 64e6 / 64e6 = 1; high: (64e6 + 131072) / 64e6 = 1.002048
    const r = wafRange(64e6, 16 * KiB, 4 * MiB);
    expect(r.low).toBe(1);
    expect(r.high).toBeCloseTo(1.002048, 6);
  });
  it('bigger erase blocks hurt small writes more: 8 MiB doubles the merge term', () => {
    // high: (16384 + 8388608 / 32) / 4096 = (16384 + 262144) / 4096 = 68
    expect(wafRange(4 * KiB, 16 * KiB, 8 * MiB).high).toBe(68);
  });
  it('defaults are the cited geometry: 16 KiB page, 4 MiB erase block', () => {
    expect([DEFAULT_PAGE_BYTES, DEFAULT_ERASE_BLOCK_BYTES]).toEqual([16 * KiB, 4 * MiB]);
  });
});

describe('estimate', () => {
  it('32 GB TLC, 2 GB/day of 4 KiB writes: 1.2 – 32.9 years, limited by wear', () => {
    // P/E 1000…3000, WAF 4…36.
    // TBW low  = 32e9 × 1000 / 36 = 888.89e9;  years = 888.89e9 / 2e9 / 365.25 = 444.44 / 365.25 = 1.2168
    // TBW high = 32e9 × 3000 / 4  = 24e12;      years = 24e12 / 2e9 / 365.25 = 12000 / 365.25 = 32.854
    const e = estimate(stick(), load(2e9));
    expect(e.tbwBytes.low).toBeCloseTo(32e9 * 1000 / 36, 0);
    expect(e.tbwBytes.high).toBe(24e12);
    expect(e.years.low).toBeCloseTo(1.2168, 3);
    expect(e.years.high).toBeCloseTo(32.854, 2);
    expect(e.limitedBy).toBe('wear');
  });
  it('--pe and --waf collapse the ranges: 3000 P/E, WAF 2 → 48 TB, 65.7 years → retention', () => {
    // TBW = 32e9 × 3000 / 2 = 48e12; 48e12 / 2e9 = 24000 days / 365.25 = 65.708 years > 10
    const e = estimate(stick({ pe: 3000, waf: 2 }), load(2e9));
    expect(e.tbwBytes).toEqual({ low: 48e12, high: 48e12 });
    expect(e.years.low).toBeCloseTo(24000 / DAYS_PER_YEAR, 6);
    expect(e.limitedBy).toBe('retention');
  });
  it('16 GB QLC at 10 GB/day with WAF 10 dies in weeks', () => {
    // TBW low = 16e9 × 100 / 10 = 160e9 → 16 days = 0.0438 years; high = 16e9 × 1000 / 10 = 1.6e12 → 160 days
    const e = estimate(stick({ capacityBytes: 16e9, nand: 'qlc', waf: 10 }), load(10e9));
    expect(e.years.low * DAYS_PER_YEAR).toBeCloseTo(16, 9);
    expect(e.years.high * DAYS_PER_YEAR).toBeCloseTo(160, 9);
    expect(e.limitedBy).toBe('wear');
  });
  it('zero writes: infinite wear life, limited by retention, not wear', () => {
    const e = estimate(stick(), load(0));
    expect(e.years).toEqual({ low: Infinity, high: Infinity });
    expect(e.limitedBy).toBe('retention');
  });
  it('SLC outlives TLC by the ratio of their P/E ranges', () => {
    // Same WAF: years scale with P/E: low 50000/1000 = 50×, high 100000/3000 = 33.3×
    const tlc = estimate(stick(), load(1e9));
    const slc = estimate(stick({ nand: 'slc' }), load(1e9));
    expect(slc.years.low / tlc.years.low).toBeCloseTo(50, 9);
    expect(slc.years.high / tlc.years.high).toBeCloseTo(100000 / 3000, 9);
  });
});

describe('absurd inputs', () => {
  it('lists every problem at once, with the value', () => {
    let err: unknown;
    try {
      estimate(stick({ capacityBytes: 0, waf: 0.5, pe: 1e9 }), load(-1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as UsageError).message;
    expect(msg).toContain('capacity (bytes) = 0');
    expect(msg).toContain('WAF = 0.5');
    expect(msg).toContain('P/E cycles = 1000000000');
    expect(msg).toContain('writes per day (bytes) = -1');
    expect((err as UsageError).hint).toMatch(/units/);
  });
  it('rejects NaN and a daily write volume no USB link can carry', () => {
    expect(() => estimate(stick({ capacityBytes: NaN }), load(1e9))).toThrow(/capacity/);
    expect(() => estimate(stick(), load(200e12))).toThrow(/writes per day/);
    expect(() => estimate(stick(), load(1e9, 1))).toThrow(/mean write size/);
  });
});

describe('comparisonLoads', () => {
  it('overlay writes only reflashes; overlay + save adds the saves', () => {
    // reflash: 1e9 / 90 days = 11.111e6 B/day; save: (64e6 + two 512-byte headers) × 24 / 24 h → 75.112e6 B/day
    const [rw, overlay, save] = comparisonLoads({
      rwDailyBytes: 2e9, rwMeanWriteBytes: 4096, rwSource: 'user', overlayDailyBytes: 0, overlaySource: 'default',
      imageBytes: 1e9, reflashEveryDays: 90, saveBytes: 64e6, saveEveryHours: 24,
    });
    expect(rw!.bytesPerDay).toBe(2e9);
    expect(overlay!.bytesPerDay).toBeCloseTo(1e9 / 90, 6);
    expect(overlay!.meanWriteBytes).toBe(1e9);
    expect(save!.bytesPerDay).toBeCloseTo(1e9 / 90 + 64e6 + 1024, 6);
    expect(save!.meanWriteBytes).toBe(64e6);
  });
  it('an overlay root that writes small blocks at runtime gets their WAF, not the reflash size', () => {
    const [, overlay, save] = comparisonLoads({
      rwDailyBytes: 2e9, rwMeanWriteBytes: 4096, rwSource: 'measured', overlayDailyBytes: 1e6, overlayMeanWriteBytes: 8192, overlaySource: 'measured',
      imageBytes: 1e9, reflashEveryDays: 90, saveBytes: 64e6, saveEveryHours: 24,
    });
    expect([overlay!.meanWriteBytes, save!.meanWriteBytes]).toEqual([8192, 8192]);
  });
  it('saving every 6 h quadruples the daily save volume', () => {
    // (64e6 + 1024) × 24 / 6 = 256.004096e6 B/day
    const loads = comparisonLoads({
      rwDailyBytes: 0, rwMeanWriteBytes: 4096, rwSource: 'default', overlayDailyBytes: 0, overlaySource: 'default',
      imageBytes: 0, reflashEveryDays: 90, saveBytes: 64e6, saveEveryHours: 6,
    });
    expect(loads[1]!.bytesPerDay).toBe(0);
    expect(loads[2]!.bytesPerDay).toBe(256e6 + 4 * 1024);
  });
  it("a small save pays for its two header sectors: a page each", () => {
    // A 20 KiB save: (20480 + 2 × 16384) / (20480 + 1024) = 53248 / 21504 = 2.476…
    const r = wafRange(20 * KiB, 16 * KiB, 4 * MiB, 2);
    expect(r.low).toBeCloseTo(53248 / 21504, 9);
    const [, , save] = comparisonLoads({
      rwDailyBytes: 0, rwMeanWriteBytes: 4096, rwSource: 'default', overlayDailyBytes: 0, overlaySource: 'default',
      imageBytes: 0, reflashEveryDays: 90, saveBytes: 20 * KiB, saveEveryHours: 1,
    });
    expect(save!.smallWritesPerWrite).toBe(2);
  });
});
