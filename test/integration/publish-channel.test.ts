/**
 * `flashroot publish IMAGE --channel NAME --sign-key KEY`: the image first (content-addressed,
 * never overwritten), then a signed manifest whose version rises, into a web root and into a
 * bucket (conditional PUTs). What it wrote is checked with signify itself, as a stick would.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedMessage, manifestName, parseManifest } from '../../src/network/channel.js';
import { publishChannelToDir, publishChannelToS3 } from '../../src/network/publish.js';
import type { S3Credentials } from '../../src/network/s3.js';
import { appendVerityTree, readVerityInfo } from '../../src/network/verity.js';
import { sha256File } from '../../src/util/hash.js';
import { run } from '../../src/util/run.js';
import { freePort } from '../helpers/nginx.js';
import { startTestS3, type TestS3 } from '../helpers/s3-server.js';

const CREDS: S3Credentials = { accessKeyId: 'FLASHROOTTEST', secretAccessKey: 'not-a-real-secret', region: 'us-east-1' };
let work: string;
let images: string[];
let www: string;
let key: { pub: string; sec: string };
let s3: TestS3;

/** A network image as build makes it: squashfs + dm-verity tree, salt = sha256 of the squashfs. */
async function networkImage(name: string): Promise<string> {
  await mkdir(join(work, name, 'etc'), { recursive: true });
  await writeFile(join(work, name, 'etc/hostname'), `${name}\n`);
  // Enough blocks for a hash tree of its own (one data block hashes straight to the root).
  await writeFile(join(work, name, 'data'), randomBytes(256 * 1024));
  const file = join(work, `${name}.sqfs`);
  await run('mksquashfs', [join(work, name), file, '-noappend', '-quiet']);
  await appendVerityTree(file, await sha256File(file));
  return file;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-publish-channel-'));
  images = [await networkImage('v1'), await networkImage('v2')];
  www = join(work, 'www');
  await mkdir(www);
  key = { pub: join(work, 'k.pub'), sec: join(work, 'k.sec') };
  await run('signify-openbsd', ['-G', '-n', '-p', key.pub, '-s', key.sec]);
  s3 = await startTestS3(await freePort(), CREDS);
});

afterAll(async () => {
  await s3.stop();
  await rm(work, { recursive: true, force: true });
});

const c = () => ({ channel: 'stable', signKey: key.sec, expiresInSec: 86400 });

async function verified(signed: string): Promise<string> {
  const f = join(work, 'check.sig');
  await writeFile(f, signed);
  await run('signify-openbsd', ['-V', '-e', '-p', key.pub, '-x', f, '-m', join(work, 'check.msg')]);
  return readFile(join(work, 'check.msg'), 'utf8');
}

describe('publish --channel into a web root', () => {
  it('recomputes the verity parameters build gave the image, from the file alone', async () => {
    const file = join(work, 'again.sqfs');
    await run('mksquashfs', [join(work, 'v1'), file, '-noappend', '-quiet']);
    const built = await appendVerityTree(file, await sha256File(file));
    expect(await readVerityInfo(file)).toEqual(built);
    // A damaged tree is refused: the manifest would name a root hash no stick could verify.
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    await expect(readVerityInfo(file)).rejects.toThrow(/hash tree does not match its data/);
  });

  it('publishes the image, then version 1 of a new channel, signed, expiring when asked', async () => {
    const now = new Date('2026-12-01T12:00:00Z');
    const r = await publishChannelToDir(images[0] ?? '', www, { ...c(), now });
    expect(r.previous).toBeUndefined();
    expect(r.manifest).toMatchObject({ channel: 'stable', version: 1, expires: now.getTime() / 1000 + 86400, image: r.image.name });
    const signed = await readFile(join(www, manifestName('stable')), 'utf8');
    const message = await verified(signed);
    expect(parseManifest(message)).toEqual(r.manifest);
    expect(embeddedMessage(signed)).toBe(message);
    expect(r.manifest.rootHash).toBe((await readVerityInfo(images[0] ?? '')).rootHash);
  });

  it('moves the channel to the next version; the old image stays; a version that does not rise is refused', async () => {
    const r = await publishChannelToDir(images[1] ?? '', www, c());
    expect(r).toMatchObject({ previous: 1, manifest: { version: 2 } });
    expect((await readdir(www)).filter((f) => f.endsWith('.sqfs'))).toHaveLength(2);
    await expect(publishChannelToDir(images[0] ?? '', www, { ...c(), version: 2 })).rejects.toThrow(/channel stable is at version 2 already; a version must rise/);
    const again = await publishChannelToDir(images[0] ?? '', www, { ...c(), version: 10 });
    expect(again).toMatchObject({ previous: 2, manifest: { version: 10 }, image: { existed: true } });
    expect((await readdir(www)).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('refuses a plain squashfs (no hash tree) and a key that is not a signify secret key', async () => {
    const plain = join(work, 'plain.sqfs');
    await run('mksquashfs', [join(work, 'v1'), plain, '-noappend', '-quiet']);
    await expect(publishChannelToDir(plain, join(work, 'www-plain'), c())).rejects.toThrow();
    await mkdir(join(work, 'www-plain'));
    await expect(publishChannelToDir(plain, join(work, 'www-plain'), c())).rejects.toThrow(/not a network image made by flashroot build/);
    await expect(publishChannelToDir(images[0] ?? '', www, { ...c(), signKey: key.pub })).rejects.toThrow(/not a signify secret key/);
  });

  it('works from the command line', async () => {
    const dir = join(work, 'www-cli');
    await mkdir(dir);
    const r = await run('node', ['bin/flashroot.js', 'publish', images[0] ?? '', '--to', dir, '--channel', 'beta', '--sign-key', key.sec, '--expires-in', '12h']);
    expect(r.stdout).toMatch(/^channel beta: version 1 \(new channel\), expires \d{4}-.*, signed by key [0-9a-f]{16}: .*beta\.channel$/m);
    const bad = await run('node', ['bin/flashroot.js', 'publish', images[0] ?? '', '--to', dir, '--channel', 'beta'], { okExitCodes: [2] });
    expect(bad.stderr).toMatch(/--channel and --sign-key: give both/);
  });
});

describe('publish --channel into a bucket', () => {
  const access = () => ({ endpoint: s3.endpoint, creds: CREDS });

  it('uploads the image, then the manifest only if nobody else wrote one meanwhile', async () => {
    const r1 = await publishChannelToS3(images[0] ?? '', 's3://boot/fleet/', access(), c());
    expect(r1.manifest.version).toBe(1);
    const r2 = await publishChannelToS3(images[1] ?? '', 's3://boot/fleet/', access(), c());
    expect(r2).toMatchObject({ previous: 1, manifest: { version: 2 } });
    const stored = s3.objects.get('/boot/fleet/stable.channel');
    expect(parseManifest(await verified(stored?.data.toString() ?? ''))).toEqual(r2.manifest);
    const puts = s3.requests.filter((q) => q.startsWith('PUT'));
    expect(puts).toEqual([`PUT /boot/fleet/${r1.image.name}`, 'PUT /boot/fleet/stable.channel', `PUT /boot/fleet/${r2.image.name}`, 'PUT /boot/fleet/stable.channel']);
  });

  it('refuses when the manifest changed between its read and its write (If-Match)', async () => {
    // A second publisher lands between our GET and PUT: the object changes just before our PUT is judged.
    const original = s3.put.bind(s3);
    const saved = s3.objects.get('/boot/fleet/stable.channel');
    const copy = join(work, 'race.sqfs');
    await copyFile(images[1] ?? '', copy);
    let raced = false;
    const orig = s3.requests.push.bind(s3.requests);
    s3.requests.push = (...items: string[]) => {
      if (!raced && items.some((i) => i === 'PUT /boot/fleet/stable.channel')) {
        raced = true;
        original('/boot/fleet/stable.channel', Buffer.from(`${saved?.data.toString() ?? ''}\n`));
      }
      return orig(...items);
    };
    await expect(publishChannelToS3(copy, 's3://boot/fleet/', access(), c())).rejects.toThrow(/changed while publishing/);
    s3.requests.push = orig;
  });
});
