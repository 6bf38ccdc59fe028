/**
 * The slots' state on the stick (issue 16), the TypeScript side. The init (overlays/init/42-slot.sh)
 * and flashroot-confirm in the booted system read and write the same formats from values baked into
 * /etc/flashroot.conf by initDefaultsForSlots, never from literals of their own.
 *
 * The state is the first line of a one-sector file (SLOT_STATE_PATH), fixed-width so every rewrite
 * is the same bytes at the same place: one sector, no FAT allocation change.
 *   flashroot-slots 1 current=a trial=b tries=3 of=3
 * `trial=-` when no slot is on trial. `tries` counts the boots the trial slot still gets; at 0 its
 * init sends the box back to `current`, and the pair stays as it is so every boot can say why.
 */
import { FlashrootError } from '../errors.js';
import { GRUB_CFG, LOADER_CONF, slotManifestPath, SLOTS, SYSLINUX_CFG, type SlotId } from './paths.js';

export const STATE_SECTOR = 512;
/** printf format, shared with the shell: current, trial, tries, of. */
export const STATE_FORMAT = 'flashroot-slots 1 current=%s trial=%s tries=%s of=%s';
export const DEFAULT_TRIES = 3;
/** One digit: the state line keeps its length. */
export const MAX_TRIES = 9;

export interface SlotState {
  current: SlotId;
  trial?: SlotId;
  /** Boots the trial slot has left. */
  tries: number;
  /** Boots it was given. */
  of: number;
}

const fmt = (format: string, ...values: string[]): string => {
  let i = 0;
  return format.replace(/%s/g, () => values[i++] ?? '');
};

export function stateLine(s: SlotState): string {
  for (const [k, v] of [['tries', s.tries], ['of', s.of]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_TRIES) throw new FlashrootError('ESLOTS', `slot state ${k}=${v} is not 0-${MAX_TRIES}`);
  }
  return fmt(STATE_FORMAT, s.current, s.trial ?? '-', String(s.tries), String(s.of));
}

/** The whole sector: the state line, then a comment, padded to STATE_SECTOR bytes. */
export function renderState(s: SlotState): Buffer {
  const head = `${stateLine(s)}\n# flashroot slot state: rewritten in place (same length), never truncated; see docs/update.md\n`;
  const buf = Buffer.alloc(STATE_SECTOR, ' ');
  buf.write(head, 0, 'ascii');
  buf[STATE_SECTOR - 1] = 0x0a;
  return buf;
}

const STATE_RE = new RegExp(
  `^${STATE_FORMAT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('current=%s', 'current=([ab])').replace('trial=%s', 'trial=([ab-])').replace('tries=%s', 'tries=(\\d)').replace('of=%s', 'of=(\\d)')}$`,
);

export function parseState(data: Buffer | string): SlotState {
  const line = data.toString().split('\n')[0] ?? '';
  const m = STATE_RE.exec(line);
  if (!m) throw new FlashrootError('ESLOTS', `the slot state '${line.slice(0, 80)}' is not in the form '${STATE_FORMAT}'`, { hint: 'set it again: flashroot slot --drive DEV a|b' });
  const trial = m[2] === '-' ? undefined : (m[2] as SlotId);
  return { current: m[1] as SlotId, ...(trial ? { trial } : {}), tries: Number(m[3]), of: Number(m[4]) };
}

/** The one line of each loader's config that says which slot boots; always its first line. */
export interface DefaultLine {
  loader: 'syslinux' | 'grub' | 'systemd-boot';
  path: string;
  /** printf format of the line (one %s: the slot), without its newline. */
  format: string;
}

export const DEFAULT_LINES: readonly DefaultLine[] = [
  { loader: 'syslinux', path: SYSLINUX_CFG, format: 'DEFAULT slot-%s' },
  { loader: 'grub', path: GRUB_CFG, format: 'set default=slot-%s' },
  { loader: 'systemd-boot', path: LOADER_CONF, format: 'default flashroot-%s.efi' },
];

export const defaultLine = (d: DefaultLine, slot: SlotId): string => fmt(d.format, slot);
/** Every entry of a slot tells the init which slot it booted. */
export const slotCmdline = (cmdline: string, slot: SlotId): string => [cmdline, `flashroot.slot=${slot}`].filter((c) => c.trim() !== '').join(' ');
/** The boot-menu entry id of a slot in syslinux and grub. */
export const menuId = (slot: SlotId, rescue = false): string => `slot-${slot}${rescue ? '-rescue' : ''}`;

/** The slot a config's first line makes the default, or undefined when it is not such a line. */
export function defaultSlotOf(d: DefaultLine, config: Buffer | string): SlotId | undefined {
  const first = config.toString().split('\n')[0] ?? '';
  return SLOTS.find((s) => defaultLine(d, s) === first);
}

/** What a slot's file is for. */
export type SlotFileRole = 'root' | 'modules' | 'drivers' | 'kernel' | 'initrd' | 'uki' | 'uki-rescue';
/** The roles of squashfs images named by their content: the same file serves both slots when it is the same. */
export const IMAGE_ROLES: readonly SlotFileRole[] = ['root', 'modules', 'drivers'];

export interface SlotFile {
  path: string;
  role: SlotFileRole;
  bytes: number;
  sha256: string;
}

/** /live/slot-X.json: what a slot holds. Written last of the slot's files, so it names only complete ones. */
export interface SlotManifest {
  flashroot: 1;
  slot: SlotId;
  buildId: string;
  /** A name for people (build --release), or the build id. */
  release: string;
  kernel: string;
  files: SlotFile[];
  cmdline: string;
  /** The FAT label its initramfs finds the stick by. */
  label?: string;
  boot?: 'hybrid' | 'bios' | 'uefi';
  uefiLoader?: 'shim' | 'systemd-boot';
  [key: string]: unknown;
}

export function parseSlotManifest(data: Buffer, path: string): SlotManifest {
  let m: Partial<SlotManifest>;
  try {
    m = JSON.parse(data.toString('utf8')) as Partial<SlotManifest>;
  } catch {
    throw new FlashrootError('ESLOTS', `${path} is not JSON`, { hint: 'the slot was cut while being written; update it again' });
  }
  if (!m.slot || !Array.isArray(m.files) || typeof m.buildId !== 'string') throw new FlashrootError('ESLOTS', `${path} is not a slot manifest`);
  return m as SlotManifest;
}

/** The values the init and flashroot-confirm read: one place for both shells. */
export function slotShellDefaults(): { slotsFormat: string; slotDefaults: string; slotManifest: string } {
  return { slotsFormat: STATE_FORMAT, slotDefaults: DEFAULT_LINES.map((d) => `${d.path}|${d.format}`).join(';'), slotManifest: slotManifestPath('%s' as SlotId) };
}
