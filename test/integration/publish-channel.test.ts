/**
 * `flashroot publish IMAGE --channel NAME --sign-key KEY`: the image first (content-addressed,
 * never overwritten), then a signed manifest whose version rises, into a web root and into a
 * bucket (conditional PUTs). What it wrote is checked with signify itself, as a stick would.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedMessage, manifestName, parseManifest, signatureKeyNumber, signifyKeyNumber, SigningKeyError } from '../../src/network/channel.js';
import { publishChannelToDir, publishChannelToS3 } from '../../src/network/publish.js';
import type { S3Credentials } from '../../src/network/s3.js';
import { appendVerityTree, readVerityInfo } from '../../src/network/verity.js';
import { sha256File } from '../../src/util/hash.js';
import { run } from '../../src/util/run.js';
import { freePort } from '../helpers/nginx.js';
import { startTestS3, type TestS3 } from '../helpers/s3-server.js';
import { verityImage } from '../helpers/verity-image.js';

const CREDS: S3Credentials = { accessKeyId: 'FLASHROOTTEST', secretAccessKey: 'not-a-real-secret', region: 'us-east-1' };
let work: string;
let images: string[];
let www: string;
let key: { pub: string; sec: string };
let other: { pub: string; sec: string };
let s3: TestS3;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-publish-channel-'));
  images = [await verityImage(work, 'v1', 256 * 1024), await verityImage(work, 'v2', 256 * 1024)];
  www = join(work, 'www');
  await mkdir(www);
  key = { pub: join(work, 'k.pub'), sec: join(work, 'k.sec') };
  await run('signify-openbsd', ['-G', '-n', '-p', key.pub, '-s', key.sec]);
  other = { pub: join(work, 'other.pub'), sec: join(work, 'other.sec') };
  await run('signify-openbsd', ['-G', '-n', '-p', other.pub, '-s', other.sec]);
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

describe('publish --channel signs with the key the sticks trust', () => {
  const keyNumber = async (k: { pub: string }) => signifyKeyNumber(await readFile(k.pub, 'utf8'), k.pub, 'public');

  it('refuses another key than the current manifest\'s, before uploading anything; --new-key moves the channel', async () => {
    const dir = join(work, 'www-keys');
    await mkdir(dir);
    const first = await publishChannelToDir(images[0] ?? '', dir, c());
    const [ours, theirs] = [await keyNumber(key), await keyNumber(other)];
    expect(first.keyNumber).toBe(ours);
    expect(signatureKeyNumber(await readFile(first.path, 'utf8'), first.path)).toBe(ours);
    const before = await readFile(first.path);
    const refused = await publishChannelToDir(images[1] ?? '', dir, { ...c(), signKey: other.sec }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SigningKeyError);
    expect(refused).toMatchObject({ code: 'ESAFETY', exitCode: 6, signKeyNumber: theirs, trustedKeyNumber: ours });
    expect((refused as Error).message).toBe(
      `channel stable is signed by key ${ours} (${first.path}, version 1), --sign-key ${other.sec} is key ${theirs}: sticks following the channel trust key ${ours} and would all refuse this version at their next boot`,
    );
    expect((refused as SigningKeyError).hint).toMatch(/rebuild the sticks with --trust NEW.pub first, then publish once with --new-key/);
    expect(await readFile(first.path)).toEqual(before);
    expect((await readdir(dir)).filter((f) => f.endsWith('.sqfs'))).toHaveLength(1);
    const moved = await publishChannelToDir(images[1] ?? '', dir, { ...c(), signKey: other.sec, newKey: true });
    expect(moved).toMatchObject({ previous: 1, manifest: { version: 2 }, keyNumber: theirs, previousKeyNumber: ours });
    // From then on the new key is the channel's: the old one is refused in turn.
    await expect(publishChannelToDir(images[0] ?? '', dir, c())).rejects.toThrow(`channel stable is signed by key ${theirs}`);
  });

  it('with --trust, refuses a sign key that is not its pair, also on a channel\'s first publish', async () => {
    const dir = join(work, 'www-trust');
    await mkdir(dir);
    // The key numbers first: awaited inside toThrow's argument, they let the publish reject with no
    // handler yet (an unhandled rejection, which fails the run).
    const expected = `--sign-key ${key.sec} is key ${await keyNumber(key)}, --trust ${other.pub} is key ${await keyNumber(other)}: they are not a pair`;
    await expect(publishChannelToDir(images[0] ?? '', dir, { ...c(), trust: other.pub })).rejects.toThrow(expected);
    expect(await readdir(dir)).toEqual([]);
    expect((await publishChannelToDir(images[0] ?? '', dir, { ...c(), trust: key.pub })).manifest.version).toBe(1);
  });

  it('refuses another key in a bucket too, with no PUT at all', async () => {
    const access = { endpoint: s3.endpoint, creds: CREDS };
    await publishChannelToS3(images[0] ?? '', 's3://boot/keys/', access, c());
    const puts = s3.requests.filter((q) => q.startsWith('PUT')).length;
    await expect(publishChannelToS3(images[1] ?? '', 's3://boot/keys/', access, { ...c(), signKey: other.sec })).rejects.toThrow(SigningKeyError);
    expect(s3.requests.filter((q) => q.startsWith('PUT')).length).toBe(puts);
    const moved = await publishChannelToS3(images[1] ?? '', 's3://boot/keys/', access, { ...c(), signKey: other.sec, newKey: true });
    expect(moved).toMatchObject({ manifest: { version: 2 }, previousKeyNumber: await keyNumber(key) });
  });

  it('from the command line: the refusal exits 6 naming both keys; a passphrase key without a terminal fails at once', async () => {
    const dir = join(work, 'www-keys-cli');
    await mkdir(dir);
    const cli = (...args: string[]) => ['bin/flashroot.js', 'publish', images[0] ?? '', '--to', dir, '--channel', 'lts', ...args];
    await run('node', cli('--sign-key', key.sec));
    const bad = await run('node', cli('--sign-key', other.sec, '--version', '5'), { okExitCodes: [6] });
    expect(bad.stderr).toContain(`channel lts is signed by key ${await keyNumber(key)}`);
    const moved = await run('node', cli('--sign-key', other.sec, '--version', '5', '--new-key'));
    expect(moved.stdout).toMatch(/the channel moved from key [0-9a-f]{16} to key [0-9a-f]{16}: sticks built with --trust for the old key refuse it/);
    // A key made without -n (kdf rounds 42, as signify writes): signify asks on a terminal, and with
    // stdin not one (a pipe here, as under cron or CI) reads the passphrase from it, and waited.
    const text = (await readFile(other.sec, 'utf8')).split('\n');
    const raw = Buffer.from(text[1] ?? '', 'base64');
    raw.writeUInt32BE(42, 4);
    const encrypted = join(work, 'encrypted.sec');
    await writeFile(encrypted, `${text[0]}\n${raw.toString('base64')}\n`, { mode: 0o600 });
    const started = Date.now();
    const asked = await run('node', cli('--sign-key', encrypted), { okExitCodes: [3], timeoutMs: 60_000 });
    expect(asked.stderr).toMatch(/encrypted\.sec is protected by a passphrase, and publish has no terminal on stdin to ask for it on\nhint: .*signify-openbsd -G -n .* keep fleet\.sec 0600/);
    expect(Date.now() - started).toBeLessThan(30_000);
    const usage = await run('node', ['bin/flashroot.js', 'publish', images[0] ?? '', '--to', dir, '--new-key'], { okExitCodes: [2] });
    expect(usage.stderr).toMatch(/--new-key: only with --channel/);
  });
});
