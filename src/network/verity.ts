/**
 * Integrity without giving up laziness: a dm-verity hash tree appended to the squashfs image. The
 * kernel checks every 4 KiB block it reads against the tree, and the tree against a root hash baked
 * into the initramfs (and so into the signed UKI), so a server can delay or refuse blocks but never
 * substitute them. A whole-image sha256 would have to read every byte before mounting.
 */
import { stat } from 'node:fs/promises';
import { FlashrootError } from '../errors.js';
import { run } from '../util/run.js';

const VERITY_BLOCK = 4096;

export interface VerityInfo {
  rootHash: string;
  salt: string;
  /** Blocks of squashfs data, verified; the hash tree follows them in the same file. */
  dataBlocks: number;
  /** Where the hash tree starts, in blocks (no superblock: the init passes every parameter). */
  hashStartBlock: number;
  /** Size of data + hash tree: a different size means a truncated or wrong image. */
  imageBytes: number;
}

/** Appends the hash tree to `file` in place and returns what the init needs to check it. */
export async function appendVerityTree(file: string, salt: string): Promise<VerityInfo> {
  const dataBytes = (await stat(file)).size;
  if (dataBytes % VERITY_BLOCK !== 0) {
    // mksquashfs pads to 4 KiB unless told -nopad; anything else is a bug upstream of here.
    throw new FlashrootError('EVERITY', `${file} is ${dataBytes} bytes, not a multiple of ${VERITY_BLOCK}`, { hint: 'build the squashfs without -nopad' });
  }
  const dataBlocks = dataBytes / VERITY_BLOCK;
  const { stdout } = await run('veritysetup', [
    'format', file, file,
    '--no-superblock', `--hash-offset=${dataBytes}`, `--data-blocks=${dataBlocks}`,
    '--data-block-size=4096', '--hash-block-size=4096', '--hash=sha256', `--salt=${salt}`,
  ]);
  const rootHash = /^Root hash:\s+([0-9a-f]{64})$/m.exec(stdout)?.[1];
  if (!rootHash) throw new FlashrootError('EVERITY', `veritysetup printed no root hash:\n${stdout}`, { hint: 'check the cryptsetup-bin version (2.6 is known to work)' });
  return { rootHash, salt, dataBlocks, hashStartBlock: dataBlocks, imageBytes: (await stat(file)).size };
}

/** The dm table line the init creates, with `device` in place of the loop device. */
export function verityTable(v: VerityInfo, device: string): string {
  return `0 ${v.dataBlocks * (VERITY_BLOCK / 512)} verity 1 ${device} ${device} ${VERITY_BLOCK} ${VERITY_BLOCK} ${v.dataBlocks} ${v.hashStartBlock} sha256 ${v.rootHash} ${v.salt}`;
}
