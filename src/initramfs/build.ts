/**
 * Builds the initramfs: busybox-static, the module closure the init fragments need (as a squashfs
 * the init mounts, modules-image.ts), the init assembled from overlays/init/, and the baked
 * defaults, as one sorted, compressed newc cpio.
 */
import { chmod, copyFile, cp, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { InputError } from '../errors.js';
import type { Compressor } from '../squashfs/mksquashfs.js';
import { removeOnInterrupt } from '../util/interrupt.js';
import { run } from '../util/run.js';
import { findOnPath } from '../util/tools.js';
import { compressInitrd, type InitrdCompressor } from './compress.js';
import { writeCpio } from './cpio.js';
import { assembleInit, loadFragments, renderDefaults, SYSTEM_TOOLS_DIR, SYSTEM_TREE, type InitDefaults, type InitScript } from './init-script.js';
import { MODULE_GROUPS, type ModuleGroupName } from './module-groups.js';
import { resolveModules, type ModuleRequest, type ResolvedModules } from './modules.js';
import { stageModulesImage } from './modules-image.js';
import { makeStickDrivers, type StickDrivers } from './stick-drivers.js';
import { entriesFromDir } from './tree.js';

export interface InitramfsOptions {
  modulesDir: string;
  defaults: Omit<InitDefaults, 'modules' | 'drivers' | 'stickDrivers'>;
  compressor: InitrdCompressor;
  /** The squashfs compressor of the modules image (the root's: the kernel reads it). */
  imageCompressor: Compressor;
  /** cpio mtime, for reproducible builds. */
  epoch: number;
  /** Module groups beyond those the init fragments declare (e.g. network for a networked lower). */
  extraModuleGroups?: readonly ModuleGroupName[];
  /** The drivers of the box the stick will boot (--hardware). */
  hardware?: Omit<ModuleRequest, 'groups'>;
  /**
   * What the initramfs and the stick carry together when --hardware leaves some drivers to the
   * stick (HardwareRequest.withStick), and where to write the stick's image of them.
   */
  driversOnStick?: { hardware: Omit<ModuleRequest, 'groups'>; out: string };
  /** Called with the staging directory before it is archived, to add files (keys, settings, the network layer). */
  stageExtra?: (root: string) => Promise<void>;
}

export interface Initramfs {
  data: Buffer;
  uncompressedBytes: number;
  /** Uncompressed bytes per part, for the build summary; the modules as they lie in the initramfs (mostly their image), and as .ko files. */
  parts: { busybox: number; modules: number; moduleFiles: number; init: number };
  modules: ResolvedModules;
  /** The drivers left to the stick, to put on its FAT at `path`. */
  stickDrivers?: StickDrivers;
}

// Modprobe options the early boot wants: usb-storage waits 1 s per device by default.
const MODPROBE_CONF = 'options usb_storage delay_use=0\n';

async function stageBusybox(root: string): Promise<{ bytes: number; applets: string[] }> {
  const busybox = await findOnPath('busybox');
  if (!busybox) throw new InputError('busybox', 'busybox not found', 'apt-get install busybox-static');
  const { stdout: kind } = await run('file', ['-L', '-b', busybox]);
  if (!/statically linked|static-pie/.test(kind)) {
    throw new InputError(busybox, `${busybox} is dynamically linked; the initramfs needs a static busybox`, 'apt-get install busybox-static');
  }
  await mkdir(join(root, 'bin'), { recursive: true });
  await copyFile(busybox, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  const { stdout } = await run(busybox, ['--list-full']);
  const applets = stdout.split('\n').filter((a) => a && a !== 'bin/busybox');
  for (const applet of applets) {
    await mkdir(join(root, applet, '..'), { recursive: true });
    await symlink('/bin/busybox', join(root, applet)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  return { bytes: (await stat(busybox)).size, applets: applets.map((a) => basename(a)) };
}

/**
 * overlays/system/ at SYSTEM_TREE, with every busybox applet linked beside its scripts: the
 * init copies the tree into /run/flashroot for the booted system (85-system-tools.sh), whose
 * root may have no shell utilities of its own.
 */
async function stageSystemTools(root: string, applets: readonly string[]): Promise<void> {
  const dest = join(root, SYSTEM_TREE);
  await cp(SYSTEM_TOOLS_DIR, dest, { recursive: true });
  for (const applet of applets) {
    await symlink('busybox', join(dest, 'bin', applet)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
}

/** The modules an initramfs would carry: what the init fragments need, plus the extra groups and hardware. */
export async function initramfsModules(o: Pick<InitramfsOptions, 'modulesDir' | 'extraModuleGroups' | 'hardware'>, init?: InitScript): Promise<ResolvedModules> {
  return resolveModules(o.modulesDir, { ...o.hardware, groups: await moduleGroups(o, init) });
}

/** The lower's groups, then the fragments', each once. */
async function moduleGroups(o: Pick<InitramfsOptions, 'extraModuleGroups'>, init?: InitScript): Promise<ModuleGroupName[]> {
  const fragments = init ?? assembleInit(await loadFragments());
  return [...new Set([...(o.extraModuleGroups ?? []), ...fragments.moduleGroups.filter((g): g is ModuleGroupName => g in MODULE_GROUPS)])];
}

/**
 * What the init loads by name, in load order: the modules its steps use (filesystems, loop,
 * dm-verity, FUSE), and apart from them the drivers of the devices it waits for, which it loads in
 * the background (30-modules.sh). Hardware drivers load only when coldplug finds their device,
 * never all of them (generic carries hundreds); so do the NIC group's, which the network step loads
 * by the class of the network controllers there are (fr_coldplug_nics).
 */
export async function namedModules(o: Pick<InitramfsOptions, 'modulesDir' | 'extraModuleGroups'>, init: InitScript): Promise<{ modules: string[]; drivers: string[] }> {
  const groups = await moduleGroups(o, init);
  const loadOrder = async (gs: ModuleGroupName[]) => new Set((await resolveModules(o.modulesDir, { groups: gs })).loadOrder);
  const forSteps = await loadOrder(groups.filter((g) => !MODULE_GROUPS[g].device));
  const byName = await loadOrder(groups.filter((g) => g !== 'nic'));
  const all = (await resolveModules(o.modulesDir, { groups })).loadOrder;
  return { modules: all.filter((m) => forSteps.has(m)), drivers: all.filter((m) => !forSteps.has(m) && byName.has(m)) };
}

export async function buildInitramfs(o: InitramfsOptions): Promise<Initramfs> {
  const init = assembleInit(await loadFragments());
  const modules = await initramfsModules(o, init);
  const byName = await namedModules(o, init);
  // The tree to archive, and beside it what is made on the way (the modules image's tree).
  const base = await mkdtemp(join(tmpdir(), 'flashroot-initramfs-'));
  const root = join(base, 'root');
  const release = removeOnInterrupt(base);
  try {
    await mkdir(root);
    const { bytes: busyboxBytes, applets } = await stageBusybox(root);
    const imageOptions = { work: base, compressor: o.imageCompressor, epoch: o.epoch };
    const moduleBytes = await stageModulesImage(modules, o.modulesDir, root, imageOptions);
    const stickDrivers = o.driversOnStick
      ? await makeStickDrivers(modules, await initramfsModules({ ...o, hardware: o.driversOnStick.hardware }, init), o.driversOnStick.out, imageOptions)
      : undefined;
    for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'newroot', 'etc/modprobe.d']) await mkdir(join(root, d), { recursive: true });
    // 'wx' (O_EXCL) never writes through a symlink: the applet links point at the host's busybox.
    await writeFile(join(root, 'etc/modprobe.d/flashroot.conf'), MODPROBE_CONF, { flag: 'wx' });
    await writeFile(join(root, 'etc/flashroot.conf'), renderDefaults({ ...o.defaults, ...byName, stickDrivers: stickDrivers?.path ?? '' }), { flag: 'wx' });
    await writeFile(join(root, 'init'), init.text, { mode: 0o755, flag: 'wx' });
    await stageSystemTools(root, applets);
    await o.stageExtra?.(root);
    const cpio = writeCpio(await entriesFromDir(root), o.epoch);
    return {
      data: await compressInitrd(cpio, o.compressor),
      uncompressedBytes: cpio.length,
      parts: { busybox: busyboxBytes, modules: moduleBytes.inInitramfs, moduleFiles: moduleBytes.modules, init: Buffer.byteLength(init.text) },
      modules,
      ...(stickDrivers ? { stickDrivers } : {}),
    };
  } finally {
    await rm(base, { recursive: true, force: true });
    release();
  }
}
