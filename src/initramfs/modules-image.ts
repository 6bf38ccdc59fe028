/**
 * The initramfs's kernel modules as one squashfs file, loop-mounted over lib/modules/<version> by
 * the init (30-modules.sh fr_mount_modules) instead of unpacked: the kernel copies a few compressed
 * MB, and only the modules that load are read. `--hardware generic` carries hundreds of drivers of
 * which a box loads a few dozen; as plain files the kernel unpacked them all at every boot (1.2 s
 * for a local stick's 32 MiB, 2.7 s for a network stick's 75 MiB, under emulation). The modules
 * the mount itself needs (squashfs, loop and what they depend on) lie beside it as plain files,
 * with the whole database, which the image holds too.
 */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeSquashfs, type Compressor } from '../squashfs/mksquashfs.js';
import { moduleNameFromPath } from './modules-db.js';
import { resolveModules, type ResolvedModules } from './modules.js';
import { stageModules } from './modules-stage.js';

/** Where the image sits in the initramfs (30-modules.sh reads the same path). */
export const MODULES_IMAGE_PATH = 'lib/flashroot/modules.sqfs';
/** What mounting the image takes, when the kernel has them as modules. */
const MOUNT_MODULES = ['squashfs', 'loop'];
/** Fast to read at module load; a higher level gains little on .ko files and costs build time. */
const IMAGE_LEVEL = 9;

export interface ModulesImageBytes {
  /** The modules unpacked (.ko files). */
  modules: number;
  /** What they take in the initramfs: the image, and the mount's own modules and database beside it. */
  inInitramfs: number;
}

/** `resolved` (its files and database) as a squashfs at `image`; `work` holds its tree meanwhile. Returns the bytes of the .ko files. */
export async function makeModulesSquashfs(resolved: ResolvedModules, image: string, o: { work: string; compressor: Compressor; epoch: number }): Promise<number> {
  const tree = await mkdtemp(join(o.work, 'modules-'));
  try {
    const { bytes } = await stageModules(resolved, tree);
    await mkdir(dirname(image), { recursive: true });
    await makeSquashfs({ source: join(tree, 'lib/modules', resolved.kernelVersion), output: image, compressor: o.compressor, excludes: [], allRoot: true, epoch: o.epoch, level: IMAGE_LEVEL });
    return bytes;
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

/** Stages `resolved` into the initramfs tree `root` as the image plus the mount's own modules; `work` holds the image's tree meanwhile. */
export async function stageModulesImage(resolved: ResolvedModules, modulesDir: string, root: string, o: { work: string; compressor: Compressor; epoch: number }): Promise<ModulesImageBytes> {
  const image = join(root, MODULES_IMAGE_PATH);
  const modules = await makeModulesSquashfs(resolved, image, o);
  const forMount = new Set((await resolveModules(modulesDir, { names: MOUNT_MODULES })).loadOrder);
  const { bytes: plain } = await stageModules({ ...resolved, files: resolved.files.filter((f) => forMount.has(moduleNameFromPath(f.dest))) }, root);
  const db = Object.values(resolved.moduleDb).reduce((sum, text) => sum + Buffer.byteLength(text), 0);
  return { modules, inInitramfs: (await stat(image)).size + plain + db };
}
