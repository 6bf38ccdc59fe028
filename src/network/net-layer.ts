/**
 * The network layer (issue 19): a network lower's FUSE client with its libraries as a dm-verity
 * squashfs on the stick (`/live/net-<sha16>.sqfs`) instead of in the initramfs. rclone alone is
 * 54 MB: in the initramfs the firmware read it through its disk services before the kernel
 * started, and the kernel unpacked it and the init copied it to a tmpfs, at every boot. From the
 * stick it is read once the network is up (the stick has been found meanwhile, while DHCP ran),
 * into RAM (so the box keeps running without the stick, as every network lower does), and only
 * the pages used are decompressed (52-lower-http.sh fr_net_layer). Its root hash is baked into
 * the initramfs: with Secure Boot the UKI's signature covers it, so a changed file on the FAT is
 * refused block by block like a changed root image.
 */
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeSquashfs, type Compressor } from '../squashfs/mksquashfs.js';
import { netLayerPath } from '../stick/paths.js';
import { sha256File } from '../util/hash.js';
import { stageLowerClient, type NetworkLowerStage } from './initramfs.js';
import { appendVerityTree, type VerityInfo } from './verity.js';

export interface NetLayer {
  /** The built file, to be written to `path` on the stick. */
  file: string;
  /** Its path on the stick's FAT. */
  path: string;
  sha256: string;
  verity: VerityInfo;
  /** The client unpacked: the bytes the initramfs no longer carries. */
  clientBytes: number;
}

/** Fast to build and to unpack; the layer is a few MB read once per boot. */
const LAYER_LEVEL = 3;

/** The client of `kind` as the network layer, built in `work`. */
export async function buildNetworkLayer(kind: NetworkLowerStage['kind'], work: string, o: { compressor: Compressor; epoch: number }): Promise<NetLayer> {
  const stage = await mkdtemp(join(work, 'net-layer-'));
  // The root of the runtime root's lower: mkdtemp makes it 0700.
  await chmod(stage, 0o755);
  await stageLowerClient(kind, stage);
  const clientBytes = await treeBytes(stage);
  const file = join(work, 'net-layer.sqfs');
  await makeSquashfs({ source: stage, output: file, compressor: o.compressor, excludes: [], allRoot: true, epoch: o.epoch, level: LAYER_LEVEL });
  await rm(stage, { recursive: true, force: true });
  const verity = await appendVerityTree(file, await sha256File(file));
  const sha256 = await sha256File(file);
  return { file, path: netLayerPath(sha256), sha256, verity, clientBytes };
}

async function treeBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) bytes += (await stat(join(e.parentPath, e.name))).size;
  return bytes;
}
