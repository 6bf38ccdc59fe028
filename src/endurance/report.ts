/**
 * The comparison as a text table and as JSON. The table is for people (ranges, rounded, units);
 * the JSON keeps raw numbers in bytes and years so scripts do their own rounding.
 */
import { RETENTION_YEARS, type Estimate, type FlashSpec, type Range } from './model.js';
import { savingRatio, type Measurement } from './measurement.js';
import { formatDecimalBytes, formatYears } from '../util/units.js';

function range(r: Range, fmt: (n: number) => string): string {
  const [a, b] = [fmt(r.low), fmt(r.high)];
  return a === b ? a : `${a} – ${b}`;
}

const wafText = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(0));

function verdict(e: Estimate): string {
  if (e.load.bytesPerDay === 0) return 'retention, not wear (nothing written)';
  return e.limitedBy === 'retention' ? `retention, not wear (> ${RETENTION_YEARS} y)` : 'wear';
}

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function renderTable(flash: FlashSpec, estimates: readonly Estimate[], measurements: readonly Measurement[] = []): string {
  const pe = flash.pe === undefined ? `${flash.nand.toUpperCase()} P/E range` : `P/E ${flash.pe}`;
  const header = `Stick: ${formatDecimalBytes(flash.capacityBytes)} ${flash.nand.toUpperCase()} (${pe}), WAF ${flash.waf === undefined ? 'from write size' : flash.waf}`;
  const rows = [
    ['configuration', 'writes/day', 'write size', 'WAF', 'TBW', 'lifetime (years)', 'limited by'],
    ...estimates.map((e) => [
      e.load.label + (e.load.source === 'measured' ? ' [measured]' : ''),
      formatDecimalBytes(e.load.bytesPerDay),
      formatDecimalBytes(e.load.meanWriteBytes),
      range(e.waf, wafText),
      range(e.tbwBytes, formatDecimalBytes),
      range(e.years, formatYears),
      verdict(e),
    ]),
  ];
  const lines = [header, '', pad(rows)];
  for (const m of measurements) lines.push('', describeMeasurement(m));
  const ratio = savingRatio(measurements);
  if (ratio !== undefined) lines.push('', describeSaving(ratio));
  return `${lines.join('\n')}\n`;
}

function describeSaving(ratio: number): string {
  return Number.isFinite(ratio)
    ? `Saving: the read-write root wrote ${ratio.toFixed(1)}× as much to the stick as the overlay root.`
    : 'Saving: the overlay root wrote 0 B to the stick where the read-write root wrote some: the ratio is unbounded.';
}

function describeMeasurement(m: Measurement): string {
  const mean = m.writeOps === 0 ? '-' : formatDecimalBytes(m.writeBytes / m.writeOps);
  return [
    `Measured (${m.root} root, ${m.seconds} s of '${m.workload}'):`,
    `  stick: ${formatDecimalBytes(m.writeBytes)} in ${m.writeOps} write operations (mean ${mean}) → ${formatDecimalBytes(m.bytesPerDay)}/day`,
    m.upperBytes === undefined ? '' : `  tmpfs upper layer grew ${formatDecimalBytes(m.upperBytes)} → RAM needed ${formatDecimalBytes(m.upperBytesPerDay ?? 0)}/day`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** rw ÷ overlay bytes written to the stick: 'unbounded' when the overlay wrote nothing, null when not measured. */
function jsonRatio(ratio: number | undefined): number | 'unbounded' | null {
  if (ratio === undefined) return null;
  return Number.isFinite(ratio) ? ratio : 'unbounded';
}

export function toJson(flash: FlashSpec, estimates: readonly Estimate[], measurements: readonly Measurement[] = []): string {
  // JSON has no Infinity: an unbounded lifetime is written as null.
  const finite = (n: number) => (Number.isFinite(n) ? n : null);
  return `${JSON.stringify(
    {
      flash,
      retentionYears: RETENTION_YEARS,
      configurations: estimates.map((e) => ({
        ...e.load,
        pe: e.pe,
        waf: e.waf,
        tbwBytes: e.tbwBytes,
        years: { low: finite(e.years.low), high: finite(e.years.high) },
        limitedBy: e.limitedBy,
      })),
      measurements,
      savingRatio: jsonRatio(savingRatio(measurements)),
    },
    null,
    2,
  )}\n`;
}
