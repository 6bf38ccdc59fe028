/**
 * Sizes and rates as people type them. Flash is sold in decimal units (a "32 GB" stick holds about
 * 32 × 10^9 bytes) and JEDEC quotes TBW in decimal terabytes, so `K/M/G/T` are powers of 1000;
 * `Ki/Mi/Gi/Ti` are powers of 1024 for those who mean them.
 */
import { UsageError } from '../errors.js';

const FACTORS: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  KI: 2 ** 10,
  MI: 2 ** 20,
  GI: 2 ** 30,
  TI: 2 ** 40,
};

/** "32G", "1.5T", "4KiB", "512" → bytes. `what` names the flag in the error. */
export function parseSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]i?)?b?\s*$/i.exec(text);
  const factor = m ? FACTORS[(m[2] ?? '').toUpperCase()] : undefined;
  if (!m || factor === undefined) {
    throw new UsageError(`${what}: cannot read '${text}' as a size.`, 'Write a number with an optional unit: 512, 4K, 2G, 1.5T (powers of 1000) or 4KiB, 2GiB (powers of 1024).');
  }
  return Number(m[1]) * factor;
}

/** "6h", "30m", "2d", or a bare number of hours → hours. */
export function parseHours(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([mhd]?)\s*$/i.exec(text);
  if (!m) throw new UsageError(`${what}: cannot read '${text}' as a duration.`, 'Write hours (6 or 6h), minutes (30m) or days (2d).');
  const unit = (m[2] ?? '').toLowerCase();
  const n = Number(m[1]);
  return unit === 'm' ? n / 60 : unit === 'd' ? n * 24 : n;
}

/** Decimal units, to match how capacity and TBW are quoted. */
export function formatDecimalBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}

/** Years with a precision that suits the magnitude: "0.42", "3.1", "27", ">1000". */
export function formatYears(y: number): string {
  if (!Number.isFinite(y) || y > 1000) return '>1000';
  return y < 1 ? y.toFixed(2) : y < 10 ? y.toFixed(1) : y.toFixed(0);
}
