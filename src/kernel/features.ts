/**
 * Whether a kernel can boot a flashroot stick at all: it must read FAT (the stick), squashfs (the
 * lower layer), loop devices (to mount the squashfs file) and overlayfs (the writable root), either
 * built in or as modules, and read the USB stick it boots from. Checked before any build work, so a
 * wrong kernel fails in a second.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { KernelError } from '../errors.js';
import { loadModuleDb, type ModuleDb } from '../initramfs/modules-db.js';

interface Feature {
  module: string;
  config: string;
  why: string;
}

const REQUIRED_FEATURES: readonly Feature[] = [
  { module: 'squashfs', config: 'CONFIG_SQUASHFS', why: 'the root filesystem image' },
  { module: 'overlay', config: 'CONFIG_OVERLAY_FS', why: 'the writable RAM-backed root' },
  { module: 'vfat', config: 'CONFIG_VFAT_FS', why: 'the FAT32 partition of the stick' },
  { module: 'fat', config: 'CONFIG_FAT_FS', why: 'the FAT32 partition of the stick' },
  { module: 'loop', config: 'CONFIG_BLK_DEV_LOOP', why: 'mounting the squashfs file' },
];

export interface KernelFeatures {
  /** Module name -> how the kernel provides it. */
  provided: Record<string, 'module' | 'builtin'>;
}

/** /lib/modules/<v> -> /boot/config-<v> under the same root, so an unpacked kernel package works too. */
export function defaultConfigPath(modulesDir: string): string {
  const dir = modulesDir.replace(/\/+$/, '');
  return join(dir, '..', '..', '..', 'boot', `config-${basename(dir)}`);
}

/** CONFIG_X=y lines; a missing config file is not an error, modules.builtin usually suffices. */
async function builtinConfigOptions(configPath: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch {
    return new Set();
  }
  return new Set([...text.matchAll(/^(CONFIG_\w+)=y$/gm)].map((m) => m[1] ?? ''));
}

function provision(db: ModuleDb, configY: Set<string>, f: Feature): 'module' | 'builtin' | undefined {
  if (db.builtin.has(f.module) || configY.has(f.config)) return 'builtin';
  return db.paths.has(f.module) ? 'module' : undefined;
}

export async function checkKernelFeatures(modulesDir: string, configPath = defaultConfigPath(modulesDir)): Promise<KernelFeatures> {
  const [db, configY] = await Promise.all([loadModuleDb(modulesDir), builtinConfigOptions(configPath)]);
  const provided: KernelFeatures['provided'] = {};
  const missing: Feature[] = [];
  for (const f of REQUIRED_FEATURES) {
    const how = provision(db, configY, f);
    if (how) provided[f.module] = how;
    else missing.push(f);
  }
  if (missing.length > 0) {
    const list = missing.map((f) => `${f.module} (${f.config}, for ${f.why})`).join(', ');
    throw new KernelError(
      `Kernel ${basename(modulesDir.replace(/\/+$/, ''))} lacks ${list}: neither built in nor a module in ${modulesDir}.`,
      `Use a kernel with ${missing.map((f) => `${f.config}=y or =m`).join(', ')} (Debian's linux-image-amd64 has them).`,
    );
  }
  return { provided };
}

/**
 * The stick is USB: the kernel must drive a USB host controller and USB mass storage, each met by
 * any one of its alternatives. Debian's cloud kernel has neither; without this check it builds a
 * stick that waits for its medium and fails at boot.
 */
const BOOT_MEDIUM_NEEDS: readonly { what: string; anyOf: readonly Feature[] }[] = [
  {
    what: 'a USB host controller driver',
    anyOf: [
      { module: 'xhci_hcd', config: 'CONFIG_USB_XHCI_HCD', why: 'USB 3 ports' },
      { module: 'ehci_hcd', config: 'CONFIG_USB_EHCI_HCD', why: 'USB 2 ports' },
    ],
  },
  {
    what: 'USB mass storage',
    anyOf: [
      { module: 'usb_storage', config: 'CONFIG_USB_STORAGE', why: 'USB sticks' },
      { module: 'uas', config: 'CONFIG_USB_UAS', why: 'USB attached SCSI sticks' },
    ],
  },
];

/** Refuses a kernel that could not read the stick it boots from; returns how each need is met. */
export async function checkBootMedium(modulesDir: string, configPath = defaultConfigPath(modulesDir)): Promise<KernelFeatures> {
  const [db, configY] = await Promise.all([loadModuleDb(modulesDir), builtinConfigOptions(configPath)]);
  const provided: KernelFeatures['provided'] = {};
  const missing: string[] = [];
  for (const need of BOOT_MEDIUM_NEEDS) {
    const met = need.anyOf.filter((f) => {
      const how = provision(db, configY, f);
      if (how) provided[f.module] = how;
      return how !== undefined;
    });
    if (met.length === 0) missing.push(`${need.what} (${need.anyOf.map((f) => `${f.module}/${f.config}`).join(' or ')})`);
  }
  if (missing.length > 0) {
    throw new KernelError(
      `Kernel ${basename(modulesDir.replace(/\/+$/, ''))} cannot read a USB stick: it lacks ${missing.join(' and ')}, neither built in nor a module in ${modulesDir}.`,
      "Use a kernel with USB storage, such as Debian's linux-image-amd64 (the cloud kernel linux-image-cloud-amd64 has no USB drivers).",
    );
  }
  return { provided };
}
