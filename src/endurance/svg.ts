/**
 * The chart: lifetime in years against host writes per day, both on log scales, one line per NAND
 * type (middle of its P/E range, middle of the WAF range), the retention horizon dashed, and each
 * configuration of the comparison marked as a point with its low–high range as an error bar.
 * Lifetime ∝ 1/writes, so every NAND line is straight on log-log axes. Plain SVG 1.1, no scripts.
 */
import { geometricMiddle, NAND_PE, NAND_TYPES, RETENTION_YEARS, tbwBytes, type Estimate, type FlashSpec } from './model.js';
import { formatDecimalBytes, formatYears } from '../util/units.js';

const W = 760;
const H = 480;
const M = { left: 70, right: 200, top: 40, bottom: 56 };
const X_DECADES = { from: 5, to: 12 }; // 100 kB/day … 1 TB/day
const Y_DECADES = { from: -2, to: 3 }; // 0.01 … 1000 years
const COLORS: Record<string, string> = { slc: '#1b7837', pslc: '#5aae61', mlc: '#2166ac', tlc: '#e08214', qlc: '#b2182b' };

const plotW = W - M.left - M.right;
const plotH = H - M.top - M.bottom;
const x = (bytesPerDay: number) => M.left + ((Math.log10(bytesPerDay) - X_DECADES.from) / (X_DECADES.to - X_DECADES.from)) * plotW;
const y = (years: number) => M.top + plotH - ((Math.log10(years) - Y_DECADES.from) / (Y_DECADES.to - Y_DECADES.from)) * plotH;
const clampY = (years: number) => Math.min(Math.max(y(years), M.top), M.top + plotH);
const f = (n: number) => n.toFixed(1);

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** 10^d bytes as "100 kB", "1 MB": decades need no decimals. */
function decadeLabel(d: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  return `${10 ** (d % 3)} ${units[Math.floor(d / 3)]}`;
}

function yearsText(r: { low: number; high: number }): string {
  const [a, b] = [formatYears(r.low), formatYears(r.high)];
  return a === b ? `${a} y` : `${a}–${b} y`;
}

function axes(): string[] {
  const out: string[] = [];
  for (let d = X_DECADES.from; d <= X_DECADES.to; d++) {
    const px = f(x(10 ** d));
    out.push(`<line x1="${px}" y1="${M.top}" x2="${px}" y2="${M.top + plotH}" stroke="#ddd"/>`);
    out.push(`<text x="${px}" y="${M.top + plotH + 18}" text-anchor="middle">${decadeLabel(d)}</text>`);
  }
  for (let d = Y_DECADES.from; d <= Y_DECADES.to; d++) {
    const py = f(y(10 ** d));
    out.push(`<line x1="${M.left}" y1="${py}" x2="${M.left + plotW}" y2="${py}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle">${10 ** d}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${M.left + plotW / 2}" y="${H - 14}" text-anchor="middle">host writes per day</text>`);
  out.push(`<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">lifetime (years)</text>`);
  const ry = f(y(RETENTION_YEARS));
  out.push(`<line x1="${M.left}" y1="${ry}" x2="${M.left + plotW}" y2="${ry}" stroke="#666" stroke-dasharray="6 4"/>`);
  out.push(`<text x="${M.left + plotW + 6}" y="${ry}" dominant-baseline="middle" fill="#666">retention ${RETENTION_YEARS} y</text>`);
  return out;
}

function nandLines(flash: FlashSpec, waf: number): string[] {
  const out: string[] = [];
  const [d0, d1] = [10 ** X_DECADES.from, 10 ** X_DECADES.to];
  NAND_TYPES.forEach((t, i) => {
    const years = (d: number) => tbwBytes(flash.capacityBytes, geometricMiddle(NAND_PE[t]), waf) / d / 365.25;
    const chosen = t === flash.nand;
    out.push(
      `<line class="nand" data-nand="${t}" x1="${f(x(d0))}" y1="${f(y(years(d0)))}" x2="${f(x(d1))}" y2="${f(y(years(d1)))}" stroke="${COLORS[t]}" stroke-width="${chosen ? 3 : 1.5}" clip-path="url(#plot)"/>`,
    );
    const ly = M.top + 14 + i * 18;
    out.push(`<line x1="${M.left + plotW + 6}" y1="${ly}" x2="${M.left + plotW + 26}" y2="${ly}" stroke="${COLORS[t]}" stroke-width="${chosen ? 3 : 1.5}"/>`);
    out.push(`<text x="${M.left + plotW + 30}" y="${ly}" dominant-baseline="middle">${t.toUpperCase()} ${NAND_PE[t].low}–${NAND_PE[t].high} P/E</text>`);
  });
  return out;
}

function points(estimates: readonly Estimate[]): string[] {
  const out: string[] = [];
  estimates.forEach((e, i) => {
    const label = escapeXml(`${e.load.id}${e.load.source === 'measured' ? ' (measured)' : ''}: ${formatDecimalBytes(e.load.bytesPerDay)}/day`);
    const cls = `point${e.load.source === 'measured' ? ' measured' : ''}`;
    const id = escapeXml(e.load.id);
    if (e.load.bytesPerDay === 0) {
      // Nothing written: no place on a log axis. Pin it as a triangle to the plot's top-left corner.
      const [px, py] = [M.left + 10, M.top + 16 + i * 14];
      out.push(`<g class="${cls}" data-config="${id}" data-bytes-per-day="0"><path d="M${px} ${py - 5} l-5 9 h10 z" fill="#000"/>`);
      out.push(`<text x="${px + 10}" y="${py}" dominant-baseline="middle">${label} → retention-limited</text></g>`);
      return;
    }
    const px = f(x(e.load.bytesPerDay));
    out.push(`<g class="${cls}" data-config="${id}" data-bytes-per-day="${e.load.bytesPerDay}">`);
    out.push(`<line x1="${px}" y1="${f(clampY(e.years.low))}" x2="${px}" y2="${f(clampY(e.years.high))}" stroke="#000"/>`);
    const cy = clampY(geometricMiddle(e.years));
    // Points pinned to the top edge would print their labels over each other: stack those.
    const ty = cy <= M.top ? M.top + 14 + i * 14 : cy - 8;
    out.push(`<circle cx="${px}" cy="${f(cy)}" r="5" fill="${e.load.source === 'measured' ? '#000' : '#fff'}" stroke="#000" stroke-width="1.5"/>`);
    out.push(`<text x="${f(x(e.load.bytesPerDay) + 8)}" y="${f(ty)}">${label}, ${yearsText(e.years)}</text></g>`);
  });
  return out;
}

/** `lineWaf`: the WAF the NAND lines assume (the middle of the read-write root's range). */
export function renderSvg(flash: FlashSpec, estimates: readonly Estimate[], lineWaf: number): string {
  const title = `Lifetime of a ${formatDecimalBytes(flash.capacityBytes)} stick vs daily writes (WAF ${lineWaf.toFixed(1)})`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<defs><clipPath id="plot"><rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}"/></clipPath></defs>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="24" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    ...axes(),
    ...nandLines(flash, lineWaf),
    ...points(estimates),
    '</svg>',
    '',
  ].join('\n');
}
