/**
 * The drivers a build leaves to the stick (DriverClass.onStick: NICs few boxes booting from a stick
 * have) as a squashfs of their own on the stick's FAT, with the module database of everything the
 * initramfs and it carry. The init stacks it over the initramfs's modules only when a network
 * controller found no driver there (45-network.sh), so the common boot never reads it, and the
 * firmware reads a smaller initramfs at every boot.
 */
import { stat } from 'node:fs/promises';
import type { Compressor } from '../squashfs/mksquashfs.js';
import { stickDriversPath } from '../stick/paths.js';
import { sha256File } from '../util/hash.js';
import { makeModulesSquashfs } from './modules-image.js';
import type { ResolvedModules } from './modules.js';

export interface StickDrivers {
  /** The image on the build host. */
  file: string;
  /** Where it goes on the stick's FAT (named by its content). */
  path: string;
  sha256: string;
  bytes: number;
  /** Modules in it, and their bytes as .ko files. */
  modules: number;
  moduleBytes: number;
}

/** The modules of `all` that `initramfs` lacks, with `all`'s database, as an image at `out`; none when there are none. */
export async function makeStickDrivers(initramfs: ResolvedModules, all: ResolvedModules, out: string, o: { work: string; compressor: Compressor; epoch: number }): Promise<StickDrivers | undefined> {
  const inInitramfs = new Set(initramfs.files.map((f) => f.dest));
  const files = all.files.filter((f) => !inInitramfs.has(f.dest));
  if (files.length === 0) return undefined;
  const moduleBytes = await makeModulesSquashfs({ ...all, files }, out, o);
  const sha256 = await sha256File(out);
  return { file: out, path: stickDriversPath(sha256), sha256, bytes: (await stat(out)).size, modules: files.length, moduleBytes };
}
