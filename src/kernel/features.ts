/**
 * Whether a kernel can boot a flashroot stick at all: it must read FAT (the stick), squashfs (the
 * lower layer), loop devices (to mount the squashfs file) and overlayfs (the writable root), either
 * built in or as modules. Checked before any build work, so a wrong kernel fails in a second.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { KernelError } from '../errors.js';
import { loadModuleDb } from '../initramfs/modules-db.js';

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

export async function checkKernelFeatures(modulesDir: string, configPath = defaultConfigPath(modulesDir)): Promise<KernelFeatures> {
  const [db, configY] = await Promise.all([loadModuleDb(modulesDir), builtinConfigOptions(configPath)]);
  const provided: KernelFeatures['provided'] = {};
  const missing: Feature[] = [];
  for (const f of REQUIRED_FEATURES) {
    if (db.builtin.has(f.module) || configY.has(f.config)) provided[f.module] = 'builtin';
    else if (db.paths.has(f.module)) provided[f.module] = 'module';
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
