/** Human text for drives, verdicts and write progress. */
import { formatBytes, formatMs } from '../util/log.js';
import type { DriveFacts } from './facts.js';
import type { FlashProgress } from './flash.js';
import type { Refusal, Verdict } from './policy.js';

function sizeText(d: DriveFacts): string {
  return d.size === null ? 'no medium' : formatBytes(d.size);
}

function flags(d: DriveFacts): string {
  const f = [
    d.removable && 'removable',
    d.hotplug && 'hotplug',
    d.card && 'card',
    d.system && 'system',
    d.virtual && 'virtual',
    d.readOnly && 'read-only',
  ];
  return f.filter(Boolean).join(',') || '-';
}

function refusalText(r: Refusal): string {
  return r.override ? `${r.reason} [${r.override}]` : r.reason;
}

/** One block per drive: what it is, then the verdict and every reason for it. */
export function drivesText(drives: readonly DriveFacts[], verdicts: readonly Verdict[]): string {
  return drives
    .map((d, i) => {
      const v = verdicts[i];
      const head = `${d.path}  ${sizeText(d)}  ${d.bus}  ${d.model || '(no model)'}${d.serial ? `  serial ${d.serial}` : ''}  [${flags(d)}]`;
      const mounts = d.mountpoints.length ? [`    mounted: ${d.mountpoints.join(', ')}`] : [];
      if (!v) return head;
      const verdict = v.writable
        ? [`    writable${v.overridden.length ? ` (overriding: ${v.overridden.map(refusalText).join('; ')})` : ''}`]
        : ['    refused:', ...v.refusals.map((r) => `      - ${refusalText(r)}`)];
      return [head, ...mounts, ...verdict].join('\n');
    })
    .join('\n');
}

/** What is on the drive now, one line per partition or stacked device. */
export function contentsText(d: DriveFacts): string[] {
  if (!d.contents.length) return ['    (no partitions found)'];
  return d.contents.map((c) => {
    const what = [c.fstype ?? 'unknown', c.label && `"${c.label}"`, c.size !== null && formatBytes(c.size), c.mountpoints.length > 0 && `mounted at ${c.mountpoints.join(', ')}`];
    return `    ${c.path}: ${what.filter(Boolean).join(', ')}`;
  });
}

export function confirmationText(d: DriveFacts, v: Verdict): string {
  const lines = [
    `About to ERASE ${d.path}:`,
    `    model:  ${d.model || '(unknown)'}`,
    `    size:   ${sizeText(d)}`,
    `    serial: ${d.serial ?? '(unknown)'}`,
    `    bus:    ${d.bus}`,
    '  Now on it:',
    ...contentsText(d),
  ];
  if (v.overridden.length) lines.push('  Refusals you are overriding:', ...v.overridden.map((r) => `    - ${refusalText(r)}`));
  return lines.join('\n');
}

export function progressText(p: FlashProgress, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (p.bytes / elapsedMs) * 1000 : 0;
  const eta = rate > 0 ? ((p.total - p.bytes) / rate) * 1000 : 0;
  const pct = p.total > 0 ? Math.floor((p.bytes / p.total) * 100) : 100;
  return `${p.phase} ${formatBytes(p.bytes)} / ${formatBytes(p.total)}  ${pct}%  ${formatBytes(rate)}/s  ETA ${formatMs(eta)}`;
}
