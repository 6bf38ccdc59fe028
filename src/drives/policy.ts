/**
 * The safety policy: may this image be written to this drive? Pure and total, so it is table-tested
 * over recorded machines. A drive is writable only when every rule passes. A few refusals can be
 * overridden, each by its own narrow flag; the rest (what backs the running system, swap, arrays,
 * read-only, no medium, too small) cannot be overridden at all.
 */
import type { DriveFacts } from './facts.js';

export type RuleId =
  | 'system-disk'
  | 'backs-system'
  | 'active-swap'
  | 'array-member'
  | 'read-only'
  | 'no-medium'
  | 'too-small'
  | 'too-large'
  | 'mounted'
  | 'not-removable'
  | 'virtual';

/** The flag that lifts a refusal, for the rules that have one. */
export type Override = '--unmount' | '--allow-non-removable' | '--allow-virtual' | '--max-size';

export interface Refusal {
  rule: RuleId;
  reason: string;
  override?: Override;
}

export interface PolicyOptions {
  /** Size of the image to write; omit when only listing drives. */
  imageSize?: number;
  /** Drives larger than this are "suspiciously large for a stick". */
  maxSize: number;
  allowNonRemovable?: boolean;
  allowVirtual?: boolean;
  unmount?: boolean;
}

export interface Verdict {
  path: string;
  writable: boolean;
  /** Rules that failed and were not overridden. */
  refusals: Refusal[];
  /** Rules that failed but were lifted by a flag: the user must confirm by typing the device path. */
  overridden: Refusal[];
}

/** Where the running system lives: a drive holding any of these is never written. */
export const SYSTEM_MOUNTPOINTS = ['/', '/boot', '/boot/efi', '/efi', '/usr'] as const;

export const DEFAULT_MAX_SIZE = 128 * 1024 ** 3;

const GiB = 1024 ** 3;

function size(n: number): string {
  return n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

function check(drive: DriveFacts, opts: PolicyOptions): Refusal[] {
  const out: Refusal[] = [];
  const critical = drive.mountpoints.filter((m) => (SYSTEM_MOUNTPOINTS as readonly string[]).includes(m));
  // drivelist calls every fixed, non-virtual disk a system disk: a signal, lifted with the same flag
  // as not-removable. The disk the running system lives on is caught by backs-system, which nothing lifts.
  if (drive.system) out.push({ rule: 'system-disk', reason: 'drivelist reports it as a system disk', override: '--allow-non-removable' });
  if (critical.length) out.push({ rule: 'backs-system', reason: `it holds the running system (${critical.join(', ')})` });
  if (drive.swaps.length) out.push({ rule: 'active-swap', reason: `active swap on ${drive.swaps.join(', ')}` });
  for (const m of drive.memberships) out.push({ rule: 'array-member', reason: m });
  if (drive.readOnly) out.push({ rule: 'read-only', reason: 'it is read-only (write-protect switch or read-only device)' });
  if (drive.size === null) {
    out.push({ rule: 'no-medium', reason: 'no medium or unknown size (an empty card reader?)' });
  } else {
    if (opts.imageSize !== undefined && drive.size < opts.imageSize) {
      out.push({ rule: 'too-small', reason: `it is smaller (${size(drive.size)}) than the image (${size(opts.imageSize)})` });
    }
    if (drive.size > opts.maxSize) {
      out.push({
        rule: 'too-large',
        reason: `it is ${size(drive.size)}, suspiciously large for a stick (limit ${size(opts.maxSize)})`,
        override: '--max-size',
      });
    }
  }
  const otherMounts = drive.mountpoints.filter((m) => !critical.includes(m));
  if (otherMounts.length) out.push({ rule: 'mounted', reason: `mounted at ${otherMounts.join(', ')}`, override: '--unmount' });
  if (!drive.virtual && !(drive.removable || drive.hotplug || drive.card)) {
    out.push({ rule: 'not-removable', reason: 'it is neither removable nor hot-pluggable', override: '--allow-non-removable' });
  }
  if (drive.virtual) out.push({ rule: 'virtual', reason: `it is a virtual device (${drive.name})`, override: '--allow-virtual' });
  return out;
}

function lifted(r: Refusal, opts: PolicyOptions): boolean {
  switch (r.override) {
    case '--unmount':
      return opts.unmount === true;
    case '--allow-non-removable':
      return opts.allowNonRemovable === true;
    case '--allow-virtual':
      return opts.allowVirtual === true;
    default:
      // --max-size is a threshold, not a switch: raising it makes the rule pass instead.
      return false;
  }
}

export function judge(drive: DriveFacts, opts: PolicyOptions): Verdict {
  const failed = check(drive, opts);
  const refusals = failed.filter((r) => !lifted(r, opts));
  return { path: drive.path, writable: refusals.length === 0, refusals, overridden: failed.filter((r) => lifted(r, opts)) };
}

/**
 * The drive about to be opened is the one the user confirmed (same serial, size and model), and no
 * override is needed that the user did not see.
 */
export function sameDrive(a: DriveFacts, av: Verdict, b: DriveFacts, bv: Verdict): boolean {
  const confirmed = new Set(av.overridden.map((r) => r.rule));
  return a.serial === b.serial && a.size === b.size && a.model === b.model && bv.overridden.every((r) => confirmed.has(r.rule));
}
