/**
 * `flashroot publish IMAGE --to DIR | s3://BUCKET/PREFIX/`: puts a network image into a web root or
 * a bucket under its content-addressed name. An object is never replaced: a running system reads it
 * lazily, and ranges from two versions would mix into garbage. In a directory the copy lands under a
 * temporary name and is hard-linked into place; in S3 the PUT carries If-None-Match: * — both fail
 * rather than overwrite if the name appeared meanwhile.
 */
import { constants } from 'node:fs';
import { copyFile, link, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { FlashrootError, InputError, SafetyError, UsageError } from '../errors.js';
import { sha256File } from '../util/hash.js';
import { run } from '../util/run.js';
import { CHANNEL_NAME, embeddedMessage, manifestName, parseManifest, renderManifest, signatureKeyNumber, signifyKeyNumber, signifySecretKey, SigningKeyError, type ChannelManifest } from './channel.js';
import { readVerityInfo } from './verity.js';
import { imageName, lowerProblem } from './lower.js';
import { objectUrl, parseS3Url, s3Request, type S3Access } from './s3.js';

export interface PublishResult {
  name: string;
  path: string;
  sha256: string;
  bytes: number;
  /** The object was already there with the same content. */
  existed: boolean;
  /** The --lower value that boots it, when the URL of the directory was given. */
  lower?: string;
}

const SQUASHFS_MAGIC = 'hsqs';
const IN_USE = ['an object in use is never overwritten'];

async function checkImage(image: string): Promise<number> {
  const st = await stat(image).catch(() => undefined);
  if (!st?.isFile()) throw new InputError(image, `${image} is not a file`, 'give the root-<sha256>.sqfs that flashroot build --lower http://… wrote next to the stick');
  const fh = await open(image, 'r');
  const magic = Buffer.alloc(4);
  await fh.read(magic, 0, 4, 0).finally(() => fh.close());
  if (magic.toString('latin1') !== SQUASHFS_MAGIC) {
    throw new InputError(image, `${image} is not a squashfs image`, 'publish the root-<sha256>.sqfs image, not the stick image');
  }
  return st.size;
}

export async function publishToDir(image: string, dir: string, baseUrl?: string): Promise<PublishResult> {
  if (baseUrl !== undefined && (!baseUrl.endsWith('/') || lowerProblem(baseUrl))) {
    throw new InputError(baseUrl, `--url ${baseUrl}: ${lowerProblem(baseUrl) ?? 'must end with / (the directory the web server maps DIR to)'}`, 'e.g. --url http://boot.example/images/');
  }
  const bytes = await checkImage(image);
  const dirSt = await stat(dir).catch(() => undefined);
  if (!dirSt?.isDirectory()) throw new InputError(dir, `${dir} is not a directory`, 'create the web root first, or point --to at it');
  const sha256 = await sha256File(image);
  const name = imageName(sha256);
  const path = join(dir, name);
  const lower = baseUrl === undefined ? undefined : `${baseUrl}${name}`;
  if (await stat(path).catch(() => undefined)) {
    const there = await sha256File(path);
    if (there !== sha256) {
      throw new SafetyError(`${path} exists with different content (sha256 ${there})`, IN_USE, 'the published copy is damaged: check the web root; booted systems may be reading it');
    }
    return { name, path, sha256, bytes, existed: true, lower };
  }
  const partial = join(dir, `.${name}.${process.pid}.partial`);
  try {
    await copyFile(image, partial, constants.COPYFILE_EXCL);
    if ((await sha256File(partial)) !== sha256) throw new InputError(image, `${basename(image)} changed while it was being published`, 'publish it again');
    await link(partial, path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') throw new SafetyError(`${path} appeared while publishing`, IN_USE, 'another publish ran at the same time; check it and run again');
      throw e;
    });
  } finally {
    await rm(partial, { force: true });
  }
  return { name, path, sha256, bytes, existed: false, lower };
}

export async function publishToS3(image: string, target: string, access: S3Access): Promise<PublishResult> {
  const { bucket, prefix } = parseS3Url(target);
  const bytes = await checkImage(image);
  const sha256 = await sha256File(image);
  const name = imageName(sha256);
  const url = objectUrl(access.endpoint, bucket, `${prefix}${name}`);
  const path = `s3://${bucket}/${prefix}${name}`;
  const result = { name, path, sha256, bytes, lower: `${target}${name}` };
  const head = await s3Request('HEAD', url, access);
  if (head.status === 200) {
    // Our PUT records the sha256 as metadata; an object without it (or another one) is not ours to judge.
    if (head.headers['x-amz-meta-sha256'] === sha256 && Number(head.headers['content-length']) === bytes) return { ...result, existed: true };
    throw new SafetyError(`${path} exists with other content or without our sha256 metadata`, IN_USE, 'check the bucket; booted systems may be reading that object');
  }
  if (head.status !== 404) throw s3Error('HEAD', url, head.status, '');
  const put = await s3Request('PUT', url, access, {
    file: image,
    bytes,
    sha256,
    // Immutable under its name: any cache or CDN may keep it for good.
    extra: { 'if-none-match': '*', 'x-amz-meta-sha256': sha256, 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=31536000, immutable' },
  });
  if (put.status === 412) throw new SafetyError(`${path} appeared while publishing`, IN_USE, 'another publish ran at the same time; check it and run again');
  if (put.status !== 200) throw s3Error('PUT', url, put.status, put.body);
  return { ...result, existed: false };
}

export function s3Error(method: string, url: URL, status: number, body: string): FlashrootError {
  const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
  return new FlashrootError('ES3', `${method} ${url.href} answered ${status}${code ? ` (${code})` : ''}`, {
    hint: status === 403 ? 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION and the bucket policy' : 'check --endpoint and the bucket name',
    exitCode: 5,
  });
}

/** What `publish --channel` is given: the channel, the signify secret key, and optionally the version and how long it stays valid. */
export interface ChannelPublish {
  channel: string;
  signKey: string;
  /** The public key the sticks trust (build --trust): the sign key must be its pair. */
  trust?: string;
  /** Sign with another key than the channel's current manifest (moving the fleet to a new key). */
  newKey?: boolean;
  /** Default: the channel's current version + 1 (1 for a new channel). */
  version?: number;
  /** Seconds from now until sticks refuse this manifest. */
  expiresInSec: number;
  /** The clock, for tests. */
  now?: Date;
}

export interface ChannelPublishResult {
  image: PublishResult;
  manifest: ChannelManifest;
  /** Where the signed manifest went (a path, or an s3:// URL). */
  path: string;
  /** The version it replaced, if any. */
  previous?: number;
  /** The signify key number the manifest is signed with (hex), to compare with the sticks' --trust key. */
  keyNumber: string;
  /** The key number of the manifest it replaced, when that was another key (--new-key). */
  previousKeyNumber?: string;
}

/** The channel as it is on the server: its manifest (signed, unverified: the publisher's own server), or nothing yet. */
interface CurrentChannel {
  where: string;
  signed: string | undefined;
}

/** What was checked before any byte is written: the version to publish, and the sign key. */
interface ChannelPlan {
  version: number;
  previous?: number;
  keyNumber: string;
  previousKeyNumber?: string;
}

const readText = (file: string): Promise<string> => readFile(file, 'utf8').catch(() => '');

/**
 * The checks of a channel publish, all before the image is uploaded: the channel's name, the
 * sign key (a signify secret key; usable without a terminal; the pair of --trust; the key of the
 * current manifest, unless --new-key), and a version that rises.
 */
async function planChannel(current: CurrentChannel, c: ChannelPublish): Promise<ChannelPlan> {
  if (!CHANNEL_NAME.test(c.channel)) throw new UsageError(`--channel ${c.channel}: must be 1-63 characters among a-z 0-9 . _ - (it names a file on the server)`, 'e.g. --channel stable');
  const key = signifySecretKey(await readText(c.signKey), c.signKey);
  if (key.encrypted && !process.stdin.isTTY) {
    // signify asks on the terminal only when stdin is one; else it reads the passphrase from stdin.
    throw new InputError(
      c.signKey,
      `${c.signKey} is protected by a passphrase, and publish has no terminal on stdin to ask for it on`,
      'for unattended publishing (cron, CI) make the key without one: signify-openbsd -G -n -p fleet.pub -s fleet.sec, and keep fleet.sec 0600 on the publishing host only',
    );
  }
  if (c.trust !== undefined) {
    const trusted = signifyKeyNumber(await readText(c.trust), c.trust, 'public');
    if (trusted !== key.keyNumber) {
      throw new SigningKeyError(`--sign-key ${c.signKey} is key ${key.keyNumber}, --trust ${c.trust} is key ${trusted}: they are not a pair`, key.keyNumber, trusted, `give the secret key made with ${c.trust} (signify-openbsd -G wrote both)`);
    }
  }
  const previous = currentVersion(current.signed, current.where);
  const previousKeyNumber = current.signed === undefined ? undefined : signatureKeyNumber(current.signed, current.where);
  if (previousKeyNumber !== undefined && previousKeyNumber !== key.keyNumber && !c.newKey) {
    throw new SigningKeyError(
      `channel ${c.channel} is signed by key ${previousKeyNumber} (${current.where}, version ${previous}), --sign-key ${c.signKey} is key ${key.keyNumber}: sticks following the channel trust key ${previousKeyNumber} and would all refuse this version at their next boot`,
      key.keyNumber,
      previousKeyNumber,
      'sign with the secret key of the .pub the sticks were built with (--trust); to move the fleet to a new key, rebuild the sticks with --trust NEW.pub first, then publish once with --new-key',
    );
  }
  const version = c.version ?? (previous ?? 0) + 1;
  if (previous !== undefined && version <= previous) {
    // Sticks that booted `previous` refuse anything older, and older boxes may have accepted it.
    throw new UsageError(`--version ${version}: channel ${c.channel} is at version ${previous} already; a version must rise`, `leave --version out (it becomes ${previous + 1}) or give a higher one`);
  }
  return { version, previous, keyNumber: key.keyNumber, previousKeyNumber: previousKeyNumber === key.keyNumber ? undefined : previousKeyNumber };
}

/** The image's manifest for the channel, signed with signify -e. */
async function signedManifest(image: string, name: string, plan: ChannelPlan, c: ChannelPublish): Promise<{ manifest: ChannelManifest; signed: Buffer }> {
  // A passphrase key (planChannel saw a terminal on stdin) is asked for there; otherwise stdin is
  // at EOF, so a prompt nobody can answer fails at once instead of waiting.
  const key = signifySecretKey(await readText(c.signKey), c.signKey);
  const v = await readVerityInfo(image);
  const manifest: ChannelManifest = {
    channel: c.channel,
    version: plan.version,
    expires: Math.floor((c.now ?? new Date()).getTime() / 1000) + c.expiresInSec,
    image: name,
    bytes: v.imageBytes,
    dataBlocks: v.dataBlocks,
    hashStart: v.hashStartBlock,
    rootHash: v.rootHash,
    salt: v.salt,
  };
  const work = await mkdtemp(join(tmpdir(), 'flashroot-channel-'));
  try {
    await writeFile(join(work, 'message'), renderManifest(manifest));
    await run('signify-openbsd', ['-S', '-e', '-s', c.signKey, '-m', join(work, 'message'), '-x', join(work, 'signed')], key.encrypted ? { inheritStdin: true } : { input: '' });
    return { manifest, signed: await readFile(join(work, 'signed')) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The version of a published manifest (read unverified: it is the publisher's own server), or undefined. */
function currentVersion(signed: string | undefined, where: string): number | undefined {
  if (signed === undefined) return undefined;
  try {
    return parseManifest(embeddedMessage(signed)).version;
  } catch (e) {
    throw new InputError(where, `${where} is not a channel manifest flashroot can read (${(e as Error).message})`, 'check what is there; give --version N to replace it with a higher version');
  }
}

/**
 * The image under its content-addressed name (never overwritten, old ones stay for the boxes
 * still running them), then the signed manifest, which is the channel's only mutable object:
 * written under a temporary name and renamed over the old one, so a reader sees one or the other.
 */
export async function publishChannelToDir(image: string, dir: string, c: ChannelPublish, baseUrl?: string): Promise<ChannelPublishResult> {
  const path = join(dir, manifestName(c.channel));
  const plan = await planChannel({ where: path, signed: await readFile(path, 'utf8').catch(() => undefined) }, c);
  const published = await publishToDir(image, dir, baseUrl);
  const { manifest, signed } = await signedManifest(published.path, published.name, plan, c);
  const partial = join(dir, `.${manifestName(c.channel)}.${process.pid}.partial`);
  try {
    await writeFile(partial, signed, { flag: 'wx', mode: 0o644 });
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  return { image: published, manifest, path, previous: plan.previous, keyNumber: plan.keyNumber, previousKeyNumber: plan.previousKeyNumber };
}

/**
 * As publishChannelToDir, into a bucket: the manifest PUT is conditional on what was read
 * (If-Match on its ETag, If-None-Match: * for a new channel), so two publishers racing cannot
 * both win; a server that ignores If-Match (some S3-compatible ones) makes it last-writer-wins.
 * Ceph radosgw 16 honours both (docs/network.md, "Tried against Ceph radosgw").
 */
export async function publishChannelToS3(image: string, target: string, access: S3Access, c: ChannelPublish): Promise<ChannelPublishResult> {
  const { bucket, prefix } = parseS3Url(target);
  const url = objectUrl(access.endpoint, bucket, `${prefix}${manifestName(c.channel)}`);
  const path = `s3://${bucket}/${prefix}${manifestName(c.channel)}`;
  const got = await s3Request('GET', url, access);
  if (got.status !== 200 && got.status !== 404) throw s3Error('GET', url, got.status, got.body);
  const plan = await planChannel({ where: path, signed: got.status === 200 ? got.body : undefined }, c);
  // Sent unquoted: radosgw (Ceph 16) compares If-Match with the bare hex it stores and refuses the
  // quoted form it returns in ETag with 412; AWS S3 takes either.
  const etag = got.headers.etag?.replace(/^"(.*)"$/, '$1');
  const published = await publishToS3(image, target, access);
  // The image is read back from the local file: its verity parameters are the same bytes.
  const { manifest, signed } = await signedManifest(image, published.name, plan, c);
  const put = await s3Request('PUT', url, access, {
    data: signed,
    extra: {
      ...(got.status === 200 ? (etag ? { 'if-match': etag } : {}) : { 'if-none-match': '*' }),
      'content-type': 'text/plain',
      // Every boot must see the newest manifest; images are the cacheable part.
      'cache-control': 'no-cache',
    },
  });
  // 412: it changed; 404 (AWS, for If-Match on a key that is gone): it was deleted meanwhile.
  if (put.status === 412 || (put.status === 404 && got.status === 200)) throw new SafetyError(`${path} changed while publishing`, ['a channel moves one version at a time'], 'another publish ran at the same time; check the channel and run again');
  if (put.status !== 200) throw s3Error('PUT', url, put.status, put.body);
  return { image: published, manifest, path, previous: plan.previous, keyNumber: plan.keyNumber, previousKeyNumber: plan.previousKeyNumber };
}
