/**
 * `flashroot publish IMAGE --to DIR`: puts a network image into a web root under its
 * content-addressed name. An object is never replaced: a running system reads it lazily, and
 * ranges from two versions would mix into garbage. The copy lands under a temporary name and is
 * hard-linked into place, which fails rather than overwrites if the name appeared meanwhile.
 */
import { constants } from 'node:fs';
import { copyFile, link, open, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError, SafetyError } from '../errors.js';
import { sha256File } from '../util/hash.js';
import { imageName, lowerProblem } from './lower.js';

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
      throw new SafetyError(`${path} exists with different content (sha256 ${there})`, ['an object in use is never overwritten'], 'the published copy is damaged: check the web root; booted systems may be reading it');
    }
    return { name, path, sha256, bytes, existed: true, lower };
  }
  const partial = join(dir, `.${name}.${process.pid}.partial`);
  try {
    await copyFile(image, partial, constants.COPYFILE_EXCL);
    if ((await sha256File(partial)) !== sha256) throw new InputError(image, `${basename(image)} changed while it was being published`, 'publish it again');
    await link(partial, path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') throw new SafetyError(`${path} appeared while publishing`, ['an object in use is never overwritten'], 'another publish ran at the same time; check it and run again');
      throw e;
    });
  } finally {
    await rm(partial, { force: true });
  }
  return { name, path, sha256, bytes, existed: false, lower };
}
