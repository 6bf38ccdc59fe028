/**
 * Integrity without giving up laziness: a dm-verity hash tree appended to the squashfs image. The
 * kernel checks every 4 KiB block it reads against the tree, and the tree against a root hash baked
 * into the initramfs (and so into the signed UKI), so a server can delay or refuse blocks but never
 * substitute them. A whole-image sha256 would have to read every byte before mounting.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlashrootError, InputError } from '../errors.js';
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
  return table(String(v.dataBlocks * (VERITY_BLOCK / 512)), String(v.dataBlocks), String(v.hashStartBlock), v.rootHash, v.salt, device);
}

/**
 * The same line with @SECTORS@ @BLOCKS@ @HASH_START@ @ROOT_HASH@ @SALT@ @DEV@ for the init to fill
 * in from a channel manifest at boot (46-channel.sh), so the table's shape has one owner.
 */
export const VERITY_TABLE_TEMPLATE = table('@SECTORS@', '@BLOCKS@', '@HASH_START@', '@ROOT_HASH@', '@SALT@', '@DEV@');
/** 512-byte sectors per verity block, for @SECTORS@. */
export const SECTORS_PER_BLOCK = VERITY_BLOCK / 512;

function table(sectors: string, blocks: string, hashStart: string, rootHash: string, salt: string, dev: string): string {
  return `0 ${sectors} verity 1 ${dev} ${dev} ${VERITY_BLOCK} ${VERITY_BLOCK} ${blocks} ${hashStart} sha256 ${rootHash} ${salt}`;
}

/**
 * The dm-verity parameters of a network image built by flashroot (squashfs + appended tree, no
 * superblock), recomputed from the file alone: the data is the squashfs (its superblock's
 * bytes_used, padded to 4 KiB as mksquashfs pads), the salt its sha256 (as appendVerityTree was
 * given it), and the tree is rebuilt and compared with the one in the file, so a damaged or
 * foreign image is refused before anything names it.
 */
export async function readVerityInfo(image: string): Promise<VerityInfo> {
  const imageBytes = (await stat(image)).size;
  const fh = await open(image, 'r');
  const sb = Buffer.alloc(96);
  await fh.read(sb, 0, 96, 0).finally(() => fh.close());
  const usedBytes = Number(sb.readBigUInt64LE(40));
  const dataBytes = Math.ceil(usedBytes / VERITY_BLOCK) * VERITY_BLOCK;
  const foreign = (why: string) => new InputError(image, `${image} is not a network image made by flashroot build: ${why}`, 'publish the root-<sha256>.sqfs that flashroot build --lower http(s)://… or s3://… wrote next to the stick');
  if (sb.toString('latin1', 0, 4) !== 'hsqs' || dataBytes <= 0 || dataBytes > imageBytes) throw foreign('no squashfs followed by a hash tree');
  const dataBlocks = dataBytes / VERITY_BLOCK;
  const work = await mkdtemp(join(tmpdir(), 'flashroot-verity-'));
  try {
    const salt = await sha256Range(image, dataBytes);
    const tree = join(work, 'tree');
    // The image is only read: the tree is rebuilt into a file of its own.
    const { stdout } = await run('veritysetup', [
      'format', image, tree,
      '--no-superblock', `--data-blocks=${dataBlocks}`,
      '--data-block-size=4096', '--hash-block-size=4096', '--hash=sha256', `--salt=${salt}`,
    ]);
    const rootHash = /^Root hash:\s+([0-9a-f]{64})$/m.exec(stdout)?.[1];
    if (!rootHash) throw new FlashrootError('EVERITY', `veritysetup printed no root hash:\n${stdout}`, { hint: 'check the cryptsetup-bin version (2.6 is known to work)' });
    const expected = await readFile(tree);
    const actual = Buffer.alloc(imageBytes - dataBytes);
    const img = await open(image, 'r');
    await img.read(actual, 0, actual.length, dataBytes).finally(() => img.close());
    if (!expected.equals(actual)) throw foreign('its hash tree does not match its data (damaged, or not built by flashroot)');
    return { rootHash, salt, dataBlocks, hashStartBlock: dataBlocks, imageBytes };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function sha256Range(file: string, bytes: number): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1 })) h.update(chunk as Buffer);
  return h.digest('hex');
}
