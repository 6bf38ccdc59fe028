/**
 * The report as Markdown: one row per tool and firmware, medians with [min–max] over the rounds,
 * and the ratios that survive a noisy machine (build ÷ the bare mksquashfs run just before it, boot ÷
 * flashroot's BIOS boot).
 */
import { formatBytes, formatMs } from '../src/util/log.js';
import type { BenchReport, BootRow, ToolResult } from './bench.js';
import { spread, type Spread } from './stats.js';

export const COLUMNS = [
  'Tool',
  'Root from',
  'Firmware',
  'initramfs (zstd)',
  'initramfs unpacked',
  'Image build',
  'Build ÷ bare mksquashfs',
  'Boot to root init',
  'initramfs phase',
  'Boot ÷ flashroot BIOS',
  '/ mounted as',
  'Written to stick',
  'Fetched from server',
] as const;

const NONE = '–';

function fmtSpread(s: Spread | undefined, fmt: (n: number) => string): string {
  if (!s) return NONE;
  return s.n === 1 ? fmt(s.median) : `${fmt(s.median)} [${fmt(s.min)}–${fmt(s.max)}]`;
}

const ratio = (n: number): string => `${n.toFixed(2)}×`;

function failures(errors: readonly string[], of: number): string {
  return errors.length ? ` (${errors.length} of ${of} failed: ${errors[0]})` : '';
}

function buildCells(t: ToolResult, report: BenchReport): string[] {
  const failed = failures(
    t.errors.filter((e) => e.startsWith('build round')),
    report.rounds.builds,
  );
  return [
    t.initramfs ? formatBytes(t.initramfs.bytes) : NONE,
    t.initramfs ? formatBytes(t.initramfs.uncompressedBytes) : NONE,
    fmtSpread(spread(t.builds.map((b) => b.ms)), formatMs) + failed,
    fmtSpread(spread(t.builds.map((b) => b.ms / b.bareMs)), ratio),
  ];
}

function fetchedCell(row: BootRow, servedBytes: number | undefined): string {
  const fetched = spread(row.samples.flatMap((s) => (s.bytesFetched === undefined ? [] : [s.bytesFetched])));
  if (!fetched || !servedBytes) return 'n/a (local)';
  return `${fmtSpread(fetched, formatBytes)} (${((100 * fetched.median) / servedBytes).toFixed(1)} % of ${formatBytes(servedBytes)})`;
}

function bootCells(row: BootRow, t: ToolResult, reference: number | undefined, boots: number): string[] {
  const times = spread(row.samples.map((s) => s.msToMarker));
  const initramfsPhase = spread(row.samples.flatMap((s) => (s.msInitramfs === undefined ? [] : [s.msInitramfs])));
  const written = spread(row.samples.map((s) => s.bytesWritten));
  const rootFs = [...new Set(row.samples.map((s) => s.rootFs ?? '?'))].join(', ');
  return [
    fmtSpread(times, formatMs) + failures(row.errors, boots),
    fmtSpread(initramfsPhase, formatMs),
    times && reference ? ratio(times.median / reference) : NONE,
    rootFs || NONE,
    written ? (written.max === 0 ? `0 B (${written.n} boots)` : fmtSpread(written, formatBytes)) : NONE,
    fetchedCell(row, t.servedBytes),
  ];
}

export function renderTable(report: BenchReport): string {
  const flashrootBios = report.tools.find((t) => t.name === 'flashroot' && t.how === 'local lower')?.boots.find((b) => b.firmware === 'BIOS');
  const reference = spread(flashrootBios?.samples.map((s) => s.msToMarker) ?? [])?.median;
  const rows: string[][] = [
    ['bare `mksquashfs` (reference)', NONE, NONE, NONE, NONE, fmtSpread(spread(report.bareMksquashfsMs), formatMs), ratio(1), ...Array<string>(COLUMNS.length - 7).fill(NONE)],
  ];
  for (const t of report.tools) {
    const prepareFailed = t.errors.find((e) => e.startsWith('prepare'));
    if (prepareFailed) {
      rows.push([t.name, t.how, NONE, `failed: ${prepareFailed}`, ...Array<string>(COLUMNS.length - 4).fill(NONE)]);
      continue;
    }
    const stickFailed = t.errors.find((e) => e.startsWith('build of the boot stick'));
    for (const row of t.boots.length ? t.boots : [undefined]) {
      const boot = row ? bootCells(row, t, reference, report.rounds.boots) : [stickFailed ? `failed: ${stickFailed}` : NONE, ...Array<string>(5).fill(NONE)];
      rows.push([t.name, t.how, row?.firmware ?? NONE, ...buildCells(t, report), ...boot]);
    }
  }
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(COLUMNS), line(COLUMNS.map(() => '---')), ...rows.map(line)].join('\n');
}

export function renderReport(report: BenchReport): string {
  const { done, rounds } = report;
  const partial = done.builds < rounds.builds || done.boots < rounds.boots;
  return [
    '# flashroot benchmarks',
    '',
    ...(partial ? [`**Partial results**: ${done.builds} of ${rounds.builds} build rounds and ${done.boots} of ${rounds.boots} boot rounds done so far.`, ''] : []),
    `Run ${report.date}, kernel ${report.kernel.version} for every tool, QEMU without KVM (software emulation), USB stick on xHCI.`,
    `Build rows: the ${report.buildRoot} root, ${report.rounds.builds} round(s), every tool's squashfs made with the same mksquashfs options (zstd).`,
    `Boot rows: the ${report.bootRoot} root (its init prints a marker, writes a file, syncs and powers off), ${report.rounds.boots} boot(s) per row, tools interleaved round-robin.`,
    'Times are median [min–max]; on a shared machine only the ratios within one run are meaningful.',
    '',
    renderTable(report),
    '',
  ].join('\n');
}
