/**
 * BIOS boot: syslinux in the FAT partition (its VBR and ldlinux.sys, installed by the mtools
 * flavour of `syslinux` at a byte offset, so no mount) and the 440-byte mbr.bin in sector 0.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { syncBackupBootSector } from '../disk/fat.js';
import { run } from '../util/run.js';
import type { RequiredFile } from '../util/tools.js';
import { initrdPath, kernelPath, SLOTS, SYSLINUX_CFG, SYSLINUX_DIR, type SlotId } from '../stick/paths.js';
import { DEFAULT_LINES, defaultLine, menuId, slotCmdline } from '../stick/slots.js';

const TEMPLATE = fileURLToPath(new URL('../../syslinux/syslinux.cfg.in', import.meta.url));
const BIOS_MODULES = '/usr/lib/syslinux/modules/bios';
export const SYSLINUX_MBR = '/usr/lib/syslinux/mbr/mbr.bin';

/** The menu needs these next to ldlinux.c32 (which `syslinux --install` writes itself). */
const MENU_MODULES = ['menu.c32', 'libutil.c32', 'libcom32.c32'];

export const SYSLINUX_FILES: RequiredFile[] = [
  { path: SYSLINUX_MBR, why: 'make the stick bootable by BIOS (MBR boot code)', apt: 'syslinux-common' },
  ...MENU_MODULES.map((m) => ({ path: `${BIOS_MODULES}/${m}`, why: 'show the BIOS boot menu', apt: 'syslinux-common' })),
];

export interface BootMenu {
  name: string;
  cmdline: string;
  /** Appended to the cmdline for the rescue entry. */
  rescueCmdline: string;
  timeoutSeconds: number;
}

/** A boot and a rescue entry per slot; the entries never change, only the first line (DEFAULT). */
function slotEntries(menu: BootMenu, slot: SlotId): string {
  const entry = (rescue: boolean) =>
    [
      `LABEL ${menuId(slot, rescue)}`,
      `  MENU LABEL ${rescue ? `Rescue shell, slot ${slot} (stop before the root is mounted)` : `Boot ${menu.name}, slot ${slot} (root in a RAM overlay)`}`,
      `  LINUX ${kernelPath(slot)}`,
      `  INITRD ${initrdPath(slot)}`,
      `  APPEND ${slotCmdline(menu.cmdline, slot)}${rescue ? ` ${menu.rescueCmdline}` : ''}`,
    ].join('\n');
  return `\n${entry(false)}\n\n${entry(true)}\n`;
}

export async function renderSyslinuxCfg(menu: BootMenu, defaultSlot: SlotId = 'a'): Promise<string> {
  const template = await readFile(TEMPLATE, 'utf8');
  const syslinux = DEFAULT_LINES.find((d) => d.loader === 'syslinux');
  if (!syslinux) throw new Error('no syslinux default line');
  return template
    .replaceAll('@DEFAULT@', defaultLine(syslinux, defaultSlot))
    .replaceAll('@TIMEOUT_DS@', String(Math.max(1, Math.round(menu.timeoutSeconds * 10))))
    .replaceAll('@NAME@', menu.name)
    .replace('@ENTRIES@\n', SLOTS.map((s) => slotEntries(menu, s)).join(''));
}

export async function syslinuxFatFiles(menu: BootMenu): Promise<{ path: string; data: Buffer }[]> {
  return [
    { path: SYSLINUX_CFG, data: Buffer.from(await renderSyslinuxCfg(menu)) },
    ...(await Promise.all(MENU_MODULES.map(async (m) => ({ path: `${SYSLINUX_DIR}/${m}`, data: await readFile(`${BIOS_MODULES}/${m}`) })))),
  ];
}

/** Installs the VBR and ldlinux.sys/.c32 into the FAT at partitionOffset bytes (mtools, unmounted). */
export async function installSyslinux(image: string, partitionOffset: number, epoch?: number): Promise<void> {
  // mtools stamps ldlinux.sys with the clock unless SOURCE_DATE_EPOCH pins it.
  const env = epoch === undefined ? undefined : { SOURCE_DATE_EPOCH: String(epoch), TZ: 'UTC' };
  await run('syslinux', ['--install', '--offset', String(partitionOffset), '--directory', SYSLINUX_DIR, image], { env });
  syncBackupBootSector(image, partitionOffset);
}

export async function syslinuxMbrCode(): Promise<Buffer> {
  return (await readFile(SYSLINUX_MBR)).subarray(0, 440);
}
