/**
 * Assembles /init from the numbered shell fragments in overlays/init/. Each fragment defines
 * functions; those named fr_step_NAME are the boot steps, run in fragment order. A fragment's
 * build-time needs sit next to its code in a `# needs:` line, so the build side stays apart from
 * the shell that runs at boot.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlashrootError } from '../errors.js';
import { slotShellDefaults } from '../stick/slots.js';
import { savesShellDefaults } from '../stick/saves-area.js';

export const INIT_FRAGMENTS_DIR = fileURLToPath(new URL('../../overlays/init/', import.meta.url));
/** What the booted system gets of flashroot's (overlays/system/), and where the initramfs holds it (FR_SYSTEM_TREE in 85-system-tools.sh). */
export const SYSTEM_TOOLS_DIR = fileURLToPath(new URL('../../overlays/system/', import.meta.url));
export const SYSTEM_TREE = 'lib/flashroot/system';

export interface InitFragment {
  file: string;
  order: number;
  steps: string[];
  moduleGroups: string[];
  source: string;
}

export interface InitScript {
  text: string;
  steps: string[];
  moduleGroups: string[];
}

const FRAGMENT_NAME = /^(\d\d)-[a-z0-9-]+\.sh$/;

export function parseFragment(file: string, source: string): InitFragment {
  const m = FRAGMENT_NAME.exec(file);
  if (!m) throw new FlashrootError('EFRAGMENT', `init fragment '${file}' is not named NN-name.sh`);
  const steps = [...source.matchAll(/^fr_step_([a-z_]+)\(\)/gm)].map((s) => s[1] ?? '');
  const needs = /^# needs: (.*)$/m.exec(source)?.[1] ?? '';
  const groups = /module-groups=([\w,-]+)/.exec(needs)?.[1]?.split(',') ?? [];
  return { file, order: Number(m[1]), steps, moduleGroups: groups, source };
}

export async function loadFragments(dir = INIT_FRAGMENTS_DIR): Promise<InitFragment[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sh')).sort();
  return Promise.all(files.map(async (f) => parseFragment(f, await readFile(join(dir, f), 'utf8'))));
}

/** Values baked into the initramfs as /etc/flashroot.conf; the kernel command line overrides them. */
export interface InitDefaults {
  label: string;
  uuid: string;
  lower: string;
  sqfs: string;
  /** sha256 of the squashfs, checked at boot with flashroot.verify. */
  sqfsSha256: string;
  size: string;
  /** Copy the lower layer to RAM first: '' (no), '1' (if it fits, else run from the stick), 'strict' (fail if not). */
  toram: '' | '1' | 'strict';
  verify: boolean;
  onfail: 'shell' | 'poweroff';
  debug: boolean;
  timeout: number;
  breakAt: string;
  init: string;
  /** The modules layer on the stick ('' for none): a root without modules for this kernel. */
  kmods: string;
  /** The slot state on the stick ('' on a stick without slots): overlays/init/42-slot.sh. */
  slotsFile: string;
  /** Seconds a root without systemd runs before its boot counts as confirmed (a slot on trial). */
  confirmAfter: number;
  /** Modules the init's steps use, loaded first, in this order. */
  modules: readonly string[];
  /** Drivers of the devices the init waits for (stick, NIC, keyboard), loaded in the background after them. */
  drivers: readonly string[];
  /** The image of drivers left to the stick ('' for none): stacked over the initramfs's modules when a NIC needs one. */
  stickDrivers: string;
  /** build --persist: the paths saved to the stick's saves area and applied at boot (none: no saves). */
  persist?: readonly string[];
  /** Save when the booted system shuts down cleanly. */
  saveAtShutdown?: boolean;
  /** Save every this many minutes when something changed (0: only on demand and at shutdown). */
  saveEvery?: number;
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

export function renderDefaults(d: InitDefaults): string {
  const vars: [string, string][] = [
    ['FR_LABEL', d.label],
    ['FR_UUID', d.uuid],
    ['FR_LOWER', d.lower],
    ['FR_SQFS', d.sqfs],
    ['FR_SQFS_SHA256', d.sqfsSha256],
    ['FR_SIZE', d.size],
    ['FR_TORAM', d.toram],
    ['FR_VERIFY', d.verify ? '1' : '0'],
    ['FR_ONFAIL', d.onfail],
    ['FR_DEBUG', d.debug ? '1' : '0'],
    ['FR_TIMEOUT', String(d.timeout)],
    ['FR_BREAK', d.breakAt],
    ['FR_INIT', d.init],
    ['FR_KMODS', d.kmods],
    ['FR_MODULES', d.modules.join(' ')],
    ['FR_DRIVERS', d.drivers.join(' ')],
    ['FR_STICK_DRIVERS', d.stickDrivers],
    ['FR_SLOTS_FILE', d.slotsFile],
    ['FR_CONFIRM_AFTER', String(d.confirmAfter)],
    // The state line's printf format and each loader's default line (path|format;…), from src/stick/slots.ts.
    ['FR_SLOTS_FORMAT', slotShellDefaults().slotsFormat],
    ['FR_SLOT_DEFAULTS', slotShellDefaults().slotDefaults],
    ['FR_SLOT_MANIFEST', slotShellDefaults().slotManifest],
    ['FR_PERSIST', (d.persist ?? []).join(' ')],
    ['FR_FRESH', ''],
    ['FR_SAVE_SHUTDOWN', d.saveAtShutdown ? '1' : '0'],
    ['FR_SAVE_EVERY', String(d.saveEvery ?? 0)],
    // The saves area's format constants, owned by src/stick/saves-area.ts.
    ...Object.entries(savesShellDefaults()),
  ];
  return `# Defaults baked in by flashroot build; flashroot.KEY=VALUE on the kernel command line overrides them.\n${vars
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join('\n')}\n`;
}

export function assembleInit(fragments: readonly InitFragment[]): InitScript {
  const steps = fragments.flatMap((f) => f.steps);
  if (new Set(steps).size !== steps.length) {
    throw new FlashrootError('EFRAGMENT', `two init fragments define the same step: ${steps.join(', ')}`);
  }
  const parts = [
    '#!/bin/sh',
    '# flashroot /init, generated from overlays/init/*.sh by flashroot build. Do not edit.',
    '# shellcheck disable=SC1090,SC1091',
    'PATH=/sbin:/bin:/usr/sbin:/usr/bin',
    'export PATH',
    '. "${FLASHROOT_CONF:-/etc/flashroot.conf}"',
    ...fragments.map((f) => `# --- ${f.file}\n${f.source.trimEnd()}`),
    '# --- main',
    'fr_main() {',
    ...steps.map((s) => `\tfr_step_${s}`),
    '}',
    // Tests source the init to exercise single functions without booting.
    '[ -n "$FLASHROOT_INIT_NO_MAIN" ] || fr_main',
    '',
  ];
  const moduleGroups = [...new Set(fragments.flatMap((f) => f.moduleGroups))].sort();
  return { text: parts.join('\n'), steps, moduleGroups };
}
