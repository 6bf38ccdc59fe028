/**
 * The root as the booted system must see it, decided without writing a byte of the source: what
 * goes on the stick differs from the source only through mksquashfs excludes and pseudo files
 * (src/squashfs/pseudo.ts). Every difference is an Adjustment the summary and --json list, with
 * its reason and, for what is left out, the bytes it saved.
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PseudoFile } from '../squashfs/pseudo.js';
import { replacedPaths } from '../squashfs/pseudo.js';
import type { CapturedRoot } from './capture.js';
import { resolveInRoot } from './capture.js';
import { ExcludeMeter } from './exclude-meter.js';
import { rewriteCrypttab, rewriteFstab, swapFilesInFstab, swapFilesInProcSwaps, type RewrittenTable } from './fstab.js';
import { globEscape } from './glob.js';
import { MACHINE_ID, RESET_LEAVE_OUT, SSH_KEYGEN_DROP_IN, SSH_KEYGEN_UNIT, type IdentityMode } from './identity.js';
import { DEFAULT_LEAVE_OUT, type LeaveOutRule } from './leave-out.js';

export interface Adjustment {
  /** Stable name: 'fstab', 'swap-files', 'apt-archives', 'exclude', … */
  rule: string;
  action: 'rewritten' | 'left out' | 'emptied' | 'added';
  /** Inside the root, '/etc/fstab'. */
  paths: string[];
  why: string;
  /** What leaving out saved, uncompressed (0 for the other actions). */
  bytes: number;
  /** For rewritten files: each changed line and why. */
  details?: string[];
}

export interface UserExcludes {
  /** Where they came from, for the report: '--exclude' or '--exclude-from FILE'. */
  source: string;
  patterns: readonly string[];
}

export interface RootPlan {
  excludes: string[];
  pseudo: PseudoFile[];
  adjustments: Adjustment[];
}

interface Source {
  root: string;
  read(rel: string): Promise<{ text: string; owner: { mode: number; uid: number; gid: number } } | undefined>;
  exists(rel: string): Promise<boolean>;
}

function sourceOf(root: string): Source {
  return {
    root,
    async read(rel) {
      const host = await resolveInRoot(root, rel);
      if (!host) return undefined;
      const st = await lstat(host).catch(() => undefined);
      if (!st?.isFile()) return undefined;
      return { text: await readFile(host, 'utf8'), owner: { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid } };
    },
    async exists(rel) {
      return Boolean(await lstat(join(root, rel)).catch(() => undefined));
    },
  };
}

const ROOT_OWNED = { uid: 0, gid: 0 };

async function rewriteTable(src: Source, rel: string, rewrite: (text: string) => RewrittenTable, why: string, plan: RootPlan): Promise<string | undefined> {
  const file = await src.read(rel);
  if (!file) return undefined;
  const r = rewrite(file.text);
  if (r.neutralised.length) {
    plan.pseudo.push({ kind: 'file', path: rel, content: r.text, replaces: true, ...file.owner });
    plan.adjustments.push({
      rule: rel.split('/').pop() ?? rel,
      action: 'rewritten',
      paths: [`/${rel}`],
      why: `${why}: ${r.neutralised.length} entr${r.neutralised.length === 1 ? 'y' : 'ies'} commented out`,
      bytes: 0,
      details: r.neutralised.map((n) => `${n.line.trim()}  (${n.why})`),
    });
  }
  return file.text;
}

async function leaveOut(meter: ExcludeMeter, rule: LeaveOutRule, plan: RootPlan, reportEmpty = false): Promise<void> {
  const measured = await meter.measure(rule.patterns);
  plan.excludes.push(...rule.patterns);
  if (measured.paths.length || reportEmpty) {
    plan.adjustments.push({
      rule: rule.rule,
      action: 'left out',
      paths: measured.paths.length ? measured.paths.map((p) => `/${p}`) : rule.patterns.map((p) => `/${p}`),
      why: measured.paths.length ? rule.why : `${rule.why} (matched nothing)`,
      bytes: measured.bytes,
    });
  }
}

/** The swap files the root's fstab names and, for the running `/`, those in use now. */
async function swapFiles(fstab: string | undefined, captured: CapturedRoot): Promise<string[]> {
  const files = fstab ? swapFilesInFstab(fstab) : [];
  if (captured.isHostRoot) files.push(...swapFilesInProcSwaps(await readFile('/proc/swaps', 'utf8').catch(() => '')));
  return [...new Set(files.map((f) => globEscape(f.replace(/^\/+/, ''))))].sort();
}

async function resetIdentity(src: Source, meter: ExcludeMeter, plan: RootPlan): Promise<void> {
  const machineId = await src.read(MACHINE_ID);
  // Empty, not missing: systemd then makes a fresh id each boot without first-boot presets;
  // a missing file would mean "first boot" and re-preset every unit.
  plan.pseudo.push({ kind: 'file', path: MACHINE_ID, content: '', replaces: Boolean(machineId), ...(machineId?.owner ?? { mode: 0o444, ...ROOT_OWNED }) });
  plan.adjustments.push({
    rule: 'machine-id',
    action: 'emptied',
    paths: [`/${MACHINE_ID}`],
    why: 'every box gets its own machine-id at each boot: systemd derives the DHCP DUID (and so the address) from it',
    bytes: 0,
  });
  for (const rule of RESET_LEAVE_OUT) {
    // A symlink to /etc/machine-id (Debian's way) already follows the emptied file.
    if (rule.rule === 'dbus-machine-id' && (await lstat(join(src.root, rule.patterns[0] ?? '')).catch(() => undefined))?.isSymbolicLink()) continue;
    await leaveOut(meter, rule, plan);
  }
  const keys = plan.adjustments.find((a) => a.rule === 'ssh-host-keys');
  if (!keys) return;
  const systemd = (await src.exists('lib/systemd/systemd')) || (await src.exists('usr/lib/systemd/systemd'));
  if (!systemd || !(await src.exists('usr/sbin/sshd'))) {
    keys.why += '; this root has no systemd-started sshd to make new ones at boot: run ssh-keygen -A on each box';
  } else {
    for (const dir of ['etc/systemd', 'etc/systemd/system', SSH_KEYGEN_DROP_IN.dir]) {
      if (!(await src.exists(dir))) plan.pseudo.push({ kind: 'dir', path: dir, mode: 0o755, ...ROOT_OWNED });
    }
    for (const f of [SSH_KEYGEN_UNIT, SSH_KEYGEN_DROP_IN]) {
      plan.pseudo.push({ kind: 'file', path: f.path, content: f.content, replaces: await src.exists(f.path), mode: 0o644, ...ROOT_OWNED });
    }
    plan.adjustments.push({
      rule: 'ssh-host-keys-at-boot',
      action: 'added',
      paths: [`/${SSH_KEYGEN_UNIT.path}`, `/${SSH_KEYGEN_DROP_IN.path}`],
      why: "Debian's sshd does not start without host keys (they are made only when the package is installed): ssh-keygen -A makes this box's own before sshd starts",
      bytes: 0,
    });
  }
}

export async function planStickRoot(captured: CapturedRoot, identity: IdentityMode, user: readonly UserExcludes[]): Promise<RootPlan> {
  const src = sourceOf(captured.dir);
  const meter = new ExcludeMeter(captured.dir, captured.notCaptured);
  const plan: RootPlan = { excludes: [...captured.excludes], pseudo: [], adjustments: [] };
  const fstab = await rewriteTable(src, 'etc/fstab', rewriteFstab, 'the booted system has none of the disks this root was installed on', plan);
  await rewriteTable(src, 'etc/crypttab', rewriteCrypttab, 'the encrypted volumes are on disks the booted system does not have', plan);
  const swap = await swapFiles(fstab, captured);
  if (swap.length) await leaveOut(meter, { rule: 'swap-files', patterns: swap, why: 'swap cannot live on the read-only root, and the file would only fill the stick' }, plan);
  const lostFound = captured.includedMounts.map((m) => `${globEscape(m)}/lost+found`);
  for (const rule of DEFAULT_LEAVE_OUT) {
    await leaveOut(meter, rule.rule === 'lost-found' ? { ...rule, patterns: [...rule.patterns, ...lostFound] } : rule, plan);
  }
  if (identity === 'reset') await resetIdentity(src, meter, plan);
  for (const u of user) {
    for (const pattern of u.patterns) await leaveOut(meter, { rule: 'exclude', patterns: [pattern], why: `asked for with ${u.source}` }, plan, true);
  }
  plan.excludes.push(...replacedPaths(plan.pseudo).map(globEscape));
  return { ...plan, excludes: [...new Set(plan.excludes)].sort() };
}

