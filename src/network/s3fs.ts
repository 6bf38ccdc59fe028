/**
 * `flashroot publish ROOT s3fs://BUCKET/PREFIX/`: a root tree uploaded in s3fs's own object
 * format, so s3fs mounts it with its owners, modes and times. The format is that of s3fs 1.90
 * (Debian 12), read from the objects s3fs itself writes and checked by mounting our uploads with
 * it (test/e2e/network-s3fs.test.ts):
 * - one object per name, key PREFIX + path; a directory is 'path/', empty, Content-Type
 *   application/x-directory;
 * - x-amz-meta-mode: st_mode in decimal with the file type bits (drwxr-xr-x: 16877), x-amz-meta-uid
 *   and x-amz-meta-gid in decimal, x-amz-meta-mtime as seconds.nanoseconds;
 * - a symlink's body is its target; a FIFO is an empty object (the kernel makes the pipe).
 * Device nodes (s3fs keeps no device numbers) and sockets are left out, as the fidelity report says.
 *
 * The prefix must be empty: a tree is never published over another. A booted system caches what
 * it has seen (s3fs's stat cache, open files, the page cache): objects replaced under it would mix
 * two versions of the root, and a half-finished upload would be a broken one. Publish a new prefix
 * and point the sticks at it (flashroot.lower=), or change the live tree through s3fs itself.
 */
import type { BigIntStats } from 'node:fs';
import { readlink, stat } from 'node:fs/promises';
import { InputError, SafetyError } from '../errors.js';
import { walkRoot, type TreeEntry } from '../root/walk.js';
import { sha256File } from '../util/hash.js';
import { treeFidelity, type FidelityLoss } from './fidelity.js';
import { s3Error } from './publish.js';
import { objectUrl, parseS3Url, s3Request, type S3Access } from './s3.js';

export interface S3fsObject {
  /** Key inside the bucket. */
  key: string;
  meta: Record<string, string>;
  contentType: string;
  body: { file: string; bytes: number } | { data: Buffer };
}

export interface TreePublishResult {
  /** The --lower value that boots it. */
  lower: string;
  objects: number;
  /** Bytes of file content uploaded (hard links count once per name). */
  bytes: number;
  /** Paths not uploaded: device nodes and sockets. */
  leftOut: string[];
}

/** How many PUTs are in flight at once. */
const PARALLEL_PUTS = 8;
const NEVER_OVER = ['a tree is never published over another: booted systems would read a mix of the two'];

/** The metadata s3fs reads an entry's stat from. */
export function s3fsMeta(st: BigIntStats): Record<string, string> {
  const ns = st.mtimeNs % 1_000_000_000n;
  return {
    'x-amz-meta-mode': String(st.mode),
    'x-amz-meta-uid': String(st.uid),
    'x-amz-meta-gid': String(st.gid),
    'x-amz-meta-mtime': `${st.mtimeNs / 1_000_000_000n}.${String(ns).padStart(9, '0')}`,
  };
}

/** The object for one entry of the tree, or undefined for what s3fs cannot hold. */
export async function s3fsObject(prefix: string, e: TreeEntry): Promise<S3fsObject | undefined> {
  const meta = s3fsMeta(e.st);
  const key = `${prefix}${e.path.slice(1)}`;
  if (e.st.isDirectory()) return { key: `${key}/`, meta, contentType: 'application/x-directory', body: { data: Buffer.alloc(0) } };
  if (e.st.isSymbolicLink()) return { key, meta, contentType: 'application/octet-stream', body: { data: Buffer.from(await readlink(e.host)) } };
  if (e.st.isFIFO()) return { key, meta, contentType: 'application/octet-stream', body: { data: Buffer.alloc(0) } };
  if (e.st.isFile()) return { key, meta, contentType: 'application/octet-stream', body: { file: e.host, bytes: Number(e.st.size) } };
  return undefined;
}

async function checkPrefixEmpty(access: S3Access, bucket: string, prefix: string, target: string): Promise<void> {
  const url = objectUrl(access.endpoint, bucket, '');
  url.search = `list-type=2&max-keys=1&prefix=${encodeURIComponent(prefix)}`;
  const r = await s3Request('GET', url, access);
  if (r.status !== 200) throw s3Error('GET', url, r.status, r.body);
  const first = /<Key>([^<]*)<\/Key>/.exec(r.body)?.[1];
  if (first !== undefined) {
    throw new SafetyError(`${target} already holds objects (e.g. ${first})`, NEVER_OVER, `publish to a new prefix (e.g. s3fs://${bucket}/${prefix}v2/) and boot it with flashroot.lower=s3fs://${bucket}/${prefix}v2/, or change the live tree through s3fs itself`);
  }
}

async function put(o: S3fsObject, access: S3Access, bucket: string): Promise<void> {
  const url = objectUrl(access.endpoint, bucket, o.key);
  const extra = { 'if-none-match': '*', 'content-type': o.contentType, ...o.meta };
  const r =
    'file' in o.body
      ? await s3Request('PUT', url, access, { file: o.body.file, bytes: o.body.bytes, sha256: await sha256File(o.body.file), extra })
      : await s3Request('PUT', url, access, { data: o.body.data, extra });
  if (r.status === 412) throw new SafetyError(`s3://${bucket}/${o.key} appeared while publishing`, NEVER_OVER, 'another publish ran at the same time; check the prefix and publish to a new one');
  if (r.status !== 200) throw s3Error('PUT', url, r.status, r.body);
}

/**
 * Checks the root and the prefix, hands the fidelity report to `report` before the first byte is
 * uploaded, then uploads the tree.
 */
export async function publishTreeToS3(
  root: string,
  target: string,
  access: S3Access,
  report: (losses: FidelityLoss[]) => void,
): Promise<TreePublishResult> {
  const { bucket, prefix } = parseS3Url(target, 's3fs');
  if (!(await stat(root).catch(() => undefined))?.isDirectory()) {
    throw new InputError(root, `${root} is not a directory`, 'give the root filesystem tree to publish (the directory you would pass to flashroot build --root)');
  }
  await checkPrefixEmpty(access, bucket, prefix, target);
  report(await treeFidelity(root, 's3fs'));
  const objects: S3fsObject[] = [];
  const leftOut: string[] = [];
  for await (const e of walkRoot(root)) {
    const o = await s3fsObject(prefix, e);
    if (o) objects.push(o);
    else leftOut.push(e.path);
  }
  for (let i = 0; i < objects.length; i += PARALLEL_PUTS) {
    await Promise.all(objects.slice(i, i + PARALLEL_PUTS).map((o) => put(o, access, bucket)));
  }
  const bytes = objects.reduce((n, o) => n + ('file' in o.body ? o.body.bytes : 0), 0);
  return { lower: target, objects: objects.length, bytes, leftOut };
}
