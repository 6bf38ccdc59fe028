/**
 * The build's side of a network lower: the squashfs becomes a self-verifying image (dm-verity tree
 * appended) named by its content and left next to the stick image for `flashroot publish`; the
 * initramfs gets the network modules, the client (as the network layer) and the root hash instead of the stick
 * carrying the root.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import type { InitramfsOptions } from '../initramfs/build.js';
import { sha256File } from '../util/hash.js';
import type { Compressor } from '../squashfs/mksquashfs.js';
import { isImageLower, networkTools, stageNetworkLower, type ChannelStage, type ImageTrust, type NetworkLowerStage } from './initramfs.js';
import { buildNetworkLayer, NET_LAYER_PATH, type NetLayer } from './net-layer.js';
import { IMAGE_NAME, imageName, imageUrl, type LowerSpec } from './lower.js';
import type { S3Credentials } from './s3.js';
import { appendVerityTree, type VerityInfo } from './verity.js';

/** Host tools a build with this lower needs: the image tools, and what is staged into the initramfs. */
export function networkBuildTools(lower: LowerSpec, channel = false): string[] {
  if (lower.kind === 'local') return [];
  return lower.kind === 'image' ? ['veritysetup', ...networkTools(lower.transport, channel)] : networkTools(lower.kind);
}

export interface NetworkImage {
  /** What the init fetches (flashroot.lower=). */
  url: string;
  /** The image to publish, named root-<sha256>.sqfs. */
  path: string;
  bytes: number;
  sha256: string;
  verity: VerityInfo;
}

export async function makeNetworkImage(sqfs: string, spec: { url: string }, outDir: string): Promise<NetworkImage> {
  // A salt derived from the content keeps reproducible builds reproducible.
  const verity = await appendVerityTree(sqfs, await sha256File(sqfs));
  const sha256 = await sha256File(sqfs);
  const named = IMAGE_NAME.exec(spec.url.slice(spec.url.lastIndexOf('/') + 1))?.[1];
  if (named !== undefined && named !== sha256) {
    // The stick would only ever meet dm-verity's refusal at boot: say so now.
    throw new UsageError(
      `--lower names the image root-${named.slice(0, 12)}….sqfs, but this root builds root-${sha256.slice(0, 12)}….sqfs`,
      'give the directory URL (ending in /) so the build names its own image, or build the same root with --reproducible',
    );
  }
  const path = join(outDir, imageName(sha256));
  await copyFile(sqfs, path);
  return { url: imageUrl(spec, sha256), path, bytes: verity.imageBytes, sha256, verity };
}

type Hooks = Pick<InitramfsOptions, 'extraModuleGroups' | 'stageExtra'>;

/** Where the network layer is built, and how (the build's work directory, compressor and time). */
export interface LayerBuild {
  work: string;
  compressor: Compressor;
  epoch: number;
  /** Receives the layer once built, for the build's summary. */
  built?: (layer: NetLayer) => void;
}

/** What the user gives for the stick's network lower (it goes into the initramfs, see docs/network.md). */
export interface NetworkFiles {
  sshKey?: string;
  sshKnownHosts?: string;
  caCert?: string;
  endpoint?: string;
  /** The key a private bucket is read with (--signed-reads; build reads it from its environment). */
  s3Credentials?: S3Credentials;
  /** A signed channel instead of the image's root hash (--channel, --trust). */
  channel?: ChannelStage;
}

/**
 * The network lower's part of the initramfs build: its module groups, and a staging step that
 * puts the client into the initramfs as the network layer, with its settings beside it (with
 * `layer` unset, for sizing only, nothing is staged).
 */
export function networkInitramfsHooks(lower: LowerSpec, img: NetworkImage | undefined, files: NetworkFiles, layer?: LayerBuild): Hooks {
  const stage = networkStage(lower, img, files);
  if (!stage) return {};
  return {
    extraModuleGroups: ['network', 'nic', ...(isImageLower(stage.kind) ? (['verity'] as const) : []), ...(stage.kind === 'nbdkit' || stage.kind === 'nbdkit-s3' ? (['nbd'] as const) : [])],
    ...(layer
      ? {
          stageExtra: async (root: string) => {
            const built = await buildNetworkLayer(stage.kind, layer.work, layer);
            layer.built?.(built);
            const dest = join(root, NET_LAYER_PATH);
            await mkdir(dirname(dest), { recursive: true });
            await copyFile(built.file, dest);
            await stageNetworkLower(root, stage);
          },
        }
      : {}),
  };
}

function networkStage(lower: LowerSpec, img: NetworkImage | undefined, files: NetworkFiles): NetworkLowerStage | undefined {
  if (lower.kind === 'image' && img) return imageStage(lower, files.channel ? { channel: files.channel } : { verity: img.verity }, files);
  if (lower.kind === 'sshfs' && files.sshKey) return { kind: 'sshfs', sshKey: files.sshKey, knownHosts: files.sshKnownHosts };
  if (lower.kind === 's3fs' && files.endpoint) return { kind: 's3fs', endpoint: files.endpoint, caCert: files.caCert, credentials: files.s3Credentials };
  return undefined;
}

function imageStage(lower: Extract<LowerSpec, { kind: 'image' }>, trust: ImageTrust, files: NetworkFiles): NetworkLowerStage {
  switch (lower.transport) {
    case 'httpfs2':
      return { kind: 'httpfs2', ...trust };
    case 'rclone-http':
    case 'nbdkit':
      return { kind: lower.transport, ...trust, caCert: files.caCert };
    case 'nbdkit-s3':
      return { kind: 'nbdkit-s3', ...trust, caCert: files.caCert, endpoint: lower.s3.endpoint, credentials: lower.s3.signed ? files.s3Credentials : undefined };
  }
}
