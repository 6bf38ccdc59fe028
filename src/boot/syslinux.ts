/**
 * BIOS boot: syslinux in the FAT partition (its VBR and ldlinux.sys, installed by the mtools
 * flavour of `syslinux` at a byte offset, so no mount) and the 440-byte mbr.bin in sector 0.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { syncBackupBootSector } from '../disk/fat.js';
import { run } from '../util/run.js';
import type { RequiredFile } from '../util/tools.js';
import { INITRD_PATH, KERNEL_PATH, SYSLINUX_CFG, SYSLINUX_DIR } from '../stick/paths.js';

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

export async function renderSyslinuxCfg(menu: BootMenu): Promise<string> {
  const template = await readFile(TEMPLATE, 'utf8');
  return template
    .replaceAll('@TIMEOUT_DS@', String(Math.max(1, Math.round(menu.timeoutSeconds * 10))))
    .replaceAll('@NAME@', menu.name)
    .replaceAll('@KERNEL@', KERNEL_PATH)
    .replaceAll('@INITRD@', INITRD_PATH)
    .replaceAll('@CMDLINE@', menu.cmdline)
    .replaceAll('@RESCUE@', menu.rescueCmdline);
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
