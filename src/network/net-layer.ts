/**
 * The network layer (issue 19): what a network lower needs only once the stick is found, as one
 * dm-verity squashfs on the stick instead of in the initramfs. It holds the NIC drivers
 * (`modules/`: every wired and USB NIC with --hardware generic, ~40 MB on 6.1) and the FUSE
 * client with its libraries (`rt/`: rclone alone is 52 MB). In the initramfs the firmware read
 * all of it through its disk services before the kernel started, and the kernel unpacked it into
 * RAM, at every boot. From the stick it is read once the kernel's own USB driver is up, into RAM
 * (so the box keeps running without the stick, as every network lower does), and only the pages
 * used are decompressed (44-net-layer.sh). Its root hash is baked into the initramfs: with
 * Secure Boot the UKI's signature covers it, so a changed file on the FAT is refused block by
 * block like a changed root image.
 */
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FlashrootError } from '../errors.js';
import { makeSquashfs, type Compressor } from '../squashfs/mksquashfs.js';
import { netLayerPath } from '../stick/paths.js';
import { sha256File } from '../util/hash.js';
import { stageFuseClient, type NetworkLowerStage } from './initramfs.js';
import { appendVerityTree, type VerityInfo } from './verity.js';

/** The modules that move to the layer, relative to /lib/modules/<version>: NIC drivers and what only they use. */
export const LAYER_MODULES_DIR = 'kernel/drivers/net';

export interface NetLayer {
  /** The built file, to be written to `path` on the stick. */
  file: string;
  /** Its path on the stick's FAT. */
  path: string;
  sha256: string;
  verity: VerityInfo;
  /** What it holds, unpacked: the bytes the initramfs no longer carries. */
  clientBytes: number;
  moduleBytes: number;
  /** How many modules moved from the initramfs into the layer. */
  modules: number;
}

/** Fast to build and to unpack; the layer is tens of MB read once per boot. */
const LAYER_LEVEL = 3;

/**
 * Moves the NIC drivers out of the initramfs staged at `initramfsRoot` (leaving their directory
 * empty, where the init binds them back) and puts them with the FUSE client of `kind` into the
 * layer, built in `work`.
 */
export async function buildNetworkLayer(kind: NetworkLowerStage['kind'], initramfsRoot: string, work: string, o: { compressor: Compressor; epoch: number }): Promise<NetLayer> {
  const stage = await mkdtemp(join(work, 'net-layer-'));
  // The root of the runtime root's lower: mkdtemp makes it 0700.
  await chmod(stage, 0o755);
  await stageFuseClient(kind, join(stage, 'rt'));
  const versions = await readdir(join(initramfsRoot, 'lib/modules'));
  if (versions.length !== 1) throw new FlashrootError('ESTAGE', `the initramfs holds modules for ${versions.length} kernels`, { hint: 'report this as a bug' });
  const modulesDir = join(initramfsRoot, 'lib/modules', versions[0] as string, LAYER_MODULES_DIR);
  const moved = join(stage, 'modules');
  await rename(modulesDir, moved).catch(async (e: NodeJS.ErrnoException) => {
    // No NIC driver at all (--hardware FILE without one): an empty directory.
    if (e.code !== 'ENOENT') throw e;
    await mkdir(moved);
  });
  await mkdir(modulesDir, { recursive: true });
  const clientBytes = (await treeFiles(join(stage, 'rt'))).bytes;
  const { bytes: moduleBytes, names } = await treeFiles(moved);
  const file = join(work, 'net-layer.sqfs');
  await makeSquashfs({ source: stage, output: file, compressor: o.compressor, excludes: [], allRoot: true, epoch: o.epoch, level: LAYER_LEVEL });
  await rm(stage, { recursive: true, force: true });
  const verity = await appendVerityTree(file, await sha256File(file));
  const sha256 = await sha256File(file);
  return { file, path: netLayerPath(sha256), sha256, verity, clientBytes, moduleBytes, modules: names.filter((n) => n.endsWith('.ko')).length };
}

async function treeFiles(dir: string): Promise<{ bytes: number; names: string[] }> {
  let bytes = 0;
  const names: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    bytes += (await stat(join(e.parentPath, e.name))).size;
    names.push(e.name);
  }
  return { bytes, names };
}
