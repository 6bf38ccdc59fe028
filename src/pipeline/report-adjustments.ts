/**
 * The build summary's account of how the stick's root differs from its source: one line per
 * adjustment with its reason, what was left out with the bytes it saved, and a total.
 */
import type { Adjustment } from '../root/adjust.js';
import { formatBytes } from '../util/log.js';

const SHOWN_PATHS = 3;
const SHOWN_DETAILS = 8;

function pathsOf(a: Adjustment): string {
  const shown = a.paths.slice(0, SHOWN_PATHS).join(' ');
  return a.paths.length > SHOWN_PATHS ? `${shown} … (${a.paths.length} in all)` : shown;
}

export function formatAdjustments(adjustments: readonly Adjustment[]): string[] {
  if (!adjustments.length) return [];
  const saved = adjustments.reduce((s, a) => s + a.bytes, 0);
  const lines = [`  adjusted:   ${adjustments.length} change${adjustments.length === 1 ? '' : 's'} from the source (which is unchanged), ${formatBytes(saved)} left out:`];
  for (const a of adjustments) {
    const bytes = a.action === 'left out' ? ` ${formatBytes(a.bytes)}` : '';
    lines.push(`    ${a.action}${bytes}: ${pathsOf(a)} — ${a.why}`);
    for (const d of (a.details ?? []).slice(0, SHOWN_DETAILS)) lines.push(`      ${d}`);
  }
  return lines;
}
