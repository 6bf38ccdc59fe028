/**
 * `flashroot publish IMAGE --to DIR | s3://BUCKET/PREFIX/`: puts a network image into a web root or
 * a bucket under its content-addressed name. An object is never replaced: a running system reads it
 * lazily, and ranges from two versions would mix into garbage. In a directory the copy lands under a
 * temporary name and is hard-linked into place; in S3 the PUT carries If-None-Match: * — both fail
 * rather than overwrite if the name appeared meanwhile.
 */
import { constants } from 'node:fs';
import { copyFile, link, open, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FlashrootError, InputError, SafetyError } from '../errors.js';
import { sha256File } from '../util/hash.js';
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
    extra: { 'if-none-match': '*', 'x-amz-meta-sha256': sha256, 'content-type': 'application/octet-stream' },
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
