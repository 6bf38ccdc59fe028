/**
 * The network layer (issue 19): a network lower's client with its libraries as a squashfs file
 * inside the initramfs (`/lib/flashroot/net-layer.sqfs`), loop-mounted where it lies instead of
 * unpacked. rclone alone is 54 MB: as plain files the kernel unpacked it and the init copied it to
 * a tmpfs at every boot; as a squashfs the kernel copies a few compressed MB, and the init reads the
 * files once into the page cache while the NIC comes up (52-lower-http.sh fr_net_prefetch), where
 * the kernel may drop them again. On the stick instead, the boot waited for the stick's USB drivers
 * and read it from the FAT before the client could start. Inside the initramfs it is covered by
 * what covers the init itself (the UKI's signature with Secure Boot), so it needs no dm-verity.
 */
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeSquashfs, type Compressor } from '../squashfs/mksquashfs.js';
import { stageLowerClient, type NetworkLowerStage } from './initramfs.js';

/** Where the layer sits in the initramfs (52-lower-http.sh fr_net_layer mounts it from there). */
export const NET_LAYER_PATH = 'lib/flashroot/net-layer.sqfs';

export interface NetLayer {
  /** The built file, to be placed at NET_LAYER_PATH in the initramfs. */
  file: string;
  bytes: number;
  /** The client unpacked: the bytes the initramfs does not unpack. */
  clientBytes: number;
}

/** Fast to build and to read; the layer is a few MB, read once per boot. */
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
  return { file, bytes: (await stat(file)).size, clientBytes };
}

async function treeBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) bytes += (await stat(join(e.parentPath, e.name))).size;
  return bytes;
}
