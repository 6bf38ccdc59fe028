/**
 * The UEFI side of the stick: systemd-boot as the removable-media loader, one UKI per menu entry
 * and a loader.conf. The lead's image assembly writes the returned files into the FAT.
 *
 * Why one UKI per entry rather than one UKI plus type #1 entries that override its command line:
 * under Secure Boot the v252 stub ignores any command line passed by the loader when the UKI has a
 * `.cmdline`, so a "rescue" entry could not change it; and type #1 entries with a separate kernel
 * and initrd leave the initrd and options unsigned. Two signed UKIs cost one extra kernel+initrd on
 * the FAT (~10 MB) and behave the same with and without Secure Boot.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { preflight, type RequiredFile } from '../util/tools.js';
import { LOADER_CONF, REMOVABLE_LOADER, ukiId, ukiPath, type SlotId } from '../stick/paths.js';
import { buildUki, osRelease, UKI_STUB } from './uki.js';

export const SYSTEMD_BOOT: RequiredFile = {
  path: '/usr/lib/systemd/boot/efi/systemd-bootx64.efi',
  why: 'boot UEFI machines (the systemd-boot menu)',
  apt: 'systemd-boot-efi',
};

/** A file for the FAT partition; paths are absolute within it. */
export interface EspFile {
  path: string;
  data: Buffer;
}

export interface MenuEntry {
  /** Names the UKI, /EFI/Linux/<id>.efi; systemd-boot uses the lower-cased file name as entry id. */
  id: string;
  /** The menu line (PRETTY_NAME of the UKI's os-release). */
  title: string;
  /** Appended to the base command line. */
  extraCmdline: string;
}

export const RESCUE_CMDLINE = 'flashroot.break=premount flashroot.shell';

/** The same two choices as the BIOS menu: a normal boot (the default) and a rescue shell. */
export function defaultMenu(title = 'flashroot', rescueCmdline = RESCUE_CMDLINE): MenuEntry[] {
  return [
    { id: 'flashroot', title, extraCmdline: '' },
    { id: 'flashroot-rescue', title: `${title} (rescue shell)`, extraCmdline: rescueCmdline },
  ];
}

/** A slot's two UKIs (issue 16): named by the slot, each telling the init which slot it is. */
export function slotMenu(slot: SlotId, title = 'flashroot', rescueCmdline = RESCUE_CMDLINE): MenuEntry[] {
  return [
    { id: ukiId(slot), title: `${title}, slot ${slot}`, extraCmdline: `flashroot.slot=${slot}` },
    { id: ukiId(slot, true), title: `${title}, slot ${slot} (rescue shell)`, extraCmdline: `flashroot.slot=${slot} ${rescueCmdline}` },
  ];
}

export interface SystemdBootInputs {
  /** systemd-bootx64.efi */
  loader: Buffer;
  /** linuxx64.efi.stub */
  stub: Buffer;
  kernel: Buffer;
  initrd: Buffer;
  /** The kernel release: recorded in each UKI and shown as the entries' version. */
  uname: string;
  /** The command line every entry starts from. */
  cmdline: string;
  /** The first entry is the default. */
  entries?: readonly MenuEntry[];
  /** Seconds the menu waits; 0 boots the default at once (a key held at power-on still shows it). */
  timeoutSec?: number;
}

export const DEFAULT_TIMEOUT_SEC = 5;

export function systemdBootFiles(inputs: SystemdBootInputs): EspFile[] {
  const entries = inputs.entries ?? defaultMenu();
  checkEntries(entries);
  const ukis = entries.map((e) => ({
    path: ukiPath(e.id),
    data: buildUki({
      stub: inputs.stub,
      kernel: inputs.kernel,
      initrd: inputs.initrd,
      cmdline: [inputs.cmdline, e.extraCmdline].filter((c) => c.trim() !== '').join(' '),
      osRelease: osRelease(e.title, inputs.uname),
      uname: inputs.uname,
    }),
  }));
  // No /loader/random-seed: systemd-boot rewrites it on every boot, which would change the stick.
  return [
    { path: REMOVABLE_LOADER, data: inputs.loader },
    ...ukis,
    { path: LOADER_CONF, data: Buffer.from(loaderConf(`${entries[0]?.id}.efi`, inputs.timeoutSec ?? DEFAULT_TIMEOUT_SEC)) },
  ];
}

export function loaderConf(defaultEntry: string, timeoutSec: number): string {
  if (!Number.isInteger(timeoutSec) || timeoutSec < 0) {
    throw new UsageError(`The menu timeout must be a whole number of seconds, not ${timeoutSec}.`);
  }
  // The default line first: flashroot update and the init rewrite it in place (src/stick/slots.ts).
  return `default ${defaultEntry}\ntimeout ${timeoutSec}\n`;
}

function checkEntries(entries: readonly MenuEntry[]): void {
  if (entries.length === 0) throw new UsageError('The UEFI menu needs at least one entry.');
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [i, e] of entries.entries()) {
    // systemd-boot lower-cases ids; `default` must match exactly, so allow only lower case.
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(e.id) || e.id.startsWith('auto-')) problems.push(`entries[${i}].id "${e.id}": use lower-case letters, digits, ".", "_" and "-", not starting with "auto-"`);
    if (seen.has(e.id)) problems.push(`entries[${i}].id "${e.id}" is used twice`);
    if (e.title.trim() === '') problems.push(`entries[${i}].title is empty`);
    seen.add(e.id);
  }
  if (problems.length > 0) throw new UsageError(`Invalid UEFI menu:\n- ${problems.join('\n- ')}`);
}

/** Reads Debian's systemd-boot and stub, after checking both are installed. */
export async function readBootBlobs(): Promise<{ loader: Buffer; stub: Buffer }> {
  await preflight([], [SYSTEMD_BOOT, UKI_STUB]);
  const [loader, stub] = await Promise.all([readFile(SYSTEMD_BOOT.path), readFile(UKI_STUB.path)]);
  return { loader, stub };
}
