/**
 * A stick that follows a signed channel (build --channel stable --trust A.pub) over plain http
 * (nginx on 127.0.0.1, 10.0.2.2 from the guest): the same stick image, booted again and again
 * (writable, so its rollback floor persists), runs whatever version the channel names, and
 * refuses what it must: a replayed older manifest (rollback), one signed by another key, an
 * expired one (freeze), an image whose blocks do not match the manifest's root hash. While a box
 * runs v1 the channel moves to v2 under it: the box keeps reading v1, whose name never changes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectImage } from '../../src/inspect/inspect.js';
import { makeNetworkImage } from '../../src/network/build-lower.js';
import { manifestName, parseFloor } from '../../src/network/channel.js';
import { publishChannelToDir, publishChannelToS3, type ChannelPublish } from '../../src/network/publish.js';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import type { BuildOptionsInput } from '../../src/pipeline/options.js';
import { bootImage, type BootResult } from '../../src/qemu/boot.js';
import { makeDemoRoot } from '../../src/root/demo-root.js';
import { makeSquashfs } from '../../src/squashfs/mksquashfs.js';
import { CHANNEL_FLOOR_PATH } from '../../src/stick/paths.js';
import { Reporter } from '../../src/util/log.js';
import { run } from '../../src/util/run.js';
import { NET_S3_KEY, s3KeyEnv } from '../helpers/net-root.js';
import { freePort, startNginx, type Nginx } from '../helpers/nginx.js';
import { startTestS3, type TestS3 } from '../helpers/s3-server.js';
import { makeTestCa } from '../helpers/tls.js';

const CHANNEL = 'stable';
const BOOTED = 'channel-test: booted';
const REPLACE = 'channel-test: replace the channel now';
const DONE = 'channel-test: done';
const BIG_BYTES = 2 * 1024 * 1024;

/** A root that says which version it is, gives the host time to move the channel, then reads a file it had not read. */
const rootInit = (version: string) => `#!/bin/sh
PATH=/bin:/sbin
export PATH
echo "channel-test: running ${version}"
echo "${BOOTED}"
echo "${REPLACE}"
sleep 10
echo "channel-test: big $(sha256sum /srv/big | cut -d' ' -f1)"
echo "${DONE}"
sync
poweroff -f
`;

interface Version {
  image: string;
  bigSha256: string;
}

let work: string;
let www: string;
let port: number;
let nginx: Nginx;
let stick: BuildResult;
let v1: Version;
let v2: Version;
let keyA: { pub: string; sec: string };
let keyB: { pub: string; sec: string };
let url: string;

async function makeRoot(dir: string, version: string): Promise<string> {
  await makeDemoRoot(dir, rootInit(version));
  await mkdir(join(dir, 'srv'));
  const big = randomBytes(BIG_BYTES);
  await writeFile(join(dir, 'srv/big'), big);
  return createHash('sha256').update(big).digest('hex');
}

async function keyPair(name: string): Promise<{ pub: string; sec: string }> {
  const k = { pub: join(work, `${name}.pub`), sec: join(work, `${name}.sec`) };
  await run('signify-openbsd', ['-G', '-n', '-c', `flashroot test key ${name}`, '-p', k.pub, '-s', k.sec]);
  return k;
}

/** A stick of the v1 root following the channel with key A, as each transport's test builds it. */
const channelStick = (o: BuildOptionsInput): BuildOptionsInput => ({ root: join(work, 'root-v1'), channel: CHANNEL, trust: keyA.pub, boot: 'bios', menuTimeout: 0, onfail: 'poweroff', ...o });

const publish = (image: string, c: Partial<ChannelPublish> = {}) => publishChannelToDir(image, www, { channel: CHANNEL, signKey: keyA.sec, expiresInSec: 3600, ...c });

/** The stick's rollback floor, read from its FAT with mtools (partition 1 at 1 MiB). */
async function floorOf(image: string): Promise<number> {
  const { stdout } = await run('mcopy', ['-n', '-i', `${image}@@1048576`, `::${CHANNEL_FLOOR_PATH}`, '-']);
  const version = parseFloor(Buffer.from(stdout, 'latin1')).version;
  expect((await inspectImage(image)).channelFloor).toEqual({ channel: CHANNEL, version });
  return version;
}

const FETCHING = 'flashroot: channel stable: fetching';
const VERIFIED = 'flashroot: channel stable: version';
const MOUNTED = 'flashroot: lower ';

/** The 512-byte sectors where two images differ. */
function changedSectors(a: Buffer, b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i += 512) if (!a.subarray(i, i + 512).equals(b.subarray(i, i + 512))) out.push(i / 512);
  return out;
}

/** One boot of the stick, with the console lines' arrival times and the requests nginx saw meanwhile. */
async function boot(
  expectText: string,
  onLine?: (line: string) => void,
  o: { stick?: BuildResult; nginx?: Nginx } = {},
): Promise<{ r: BootResult; text: string; requests: string[]; atBoot: string[]; at: Map<string, number> }> {
  const server = o.nginx ?? nginx;
  const before = (await server.requests()).length;
  const at = new Map<string, number>();
  let atBoot: Promise<string[]> = Promise.resolve([]);
  const r = await bootImage({
    image: (o.stick ?? stick).image,
    writable: true,
    network: true,
    expect: expectText,
    failOn: expectText === DONE ? ['flashroot: FAIL', 'Kernel panic'] : ['Kernel panic'],
    timeoutSec: 180,
    graceMs: 500,
    onLine: (line) => {
      for (const key of [FETCHING, VERIFIED, MOUNTED, BOOTED]) if (line.includes(key) && !at.has(key)) at.set(key, Date.now());
      if (line.includes(BOOTED)) atBoot = server.requests();
      onLine?.(line);
    },
  });
  return { r, text: r.console.join('\n'), requests: (await server.requests()).slice(before), atBoot: (await atBoot).slice(before), at };
}

const bytes = (lines: string[]) => lines.reduce((sum, l) => sum + Number(l.split(' ')[3] ?? 0), 0);
/** Requests and bytes to the root's init, and the times from the manifest request to its check and to the mounted lower. */
function bootNumbers(what: string, b: Awaited<ReturnType<typeof boot>>): string {
  const manifest = b.atBoot.filter((l) => l.includes('.channel'));
  const since = (key: string) => (b.at.get(key) ?? NaN) - (b.at.get(FETCHING) ?? NaN);
  return (
    `channel boot ${what}: to the root's init ${b.atBoot.length} requests, ${bytes(b.atBoot)} bytes (${manifest.length} for the manifest, ${bytes(manifest)} bytes); ` +
    `${b.requests.length} requests, ${bytes(b.requests)} bytes with the 2 MiB read; manifest request to verified ${since(VERIFIED)} ms, to mounted lower ${since(MOUNTED)} ms\n`
  );
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-channel-'));
  keyA = await keyPair('a');
  keyB = await keyPair('b');
  port = await freePort();
  url = `http://10.0.2.2:${port}/images/`;
  const big1 = await makeRoot(join(work, 'root-v1'), 'v1');
  stick = await build(
    channelStick({ lower: url, timeout: 12, out: join(work, 'stick.img') }),
    new Reporter(true),
  );
  v1 = { image: stick.network?.path ?? '', bigSha256: big1 };
  // v2 is only an image: what `build` makes of a root, without a second stick.
  const big2 = await makeRoot(join(work, 'root-v2'), 'v2');
  const sqfs = join(work, 'v2.sqfs');
  await makeSquashfs({ source: join(work, 'root-v2'), output: sqfs, compressor: 'zstd', excludes: [] });
  await mkdir(join(work, 'v2'));
  v2 = { image: (await makeNetworkImage(sqfs, { url }, join(work, 'v2'))).path, bigSha256: big2 };
  www = join(work, 'www', 'images');
  await mkdir(www, { recursive: true });
  nginx = await startNginx(join(work, 'www'), port, join(work, 'nginx'));
}, 400_000);

afterAll(async () => {
  await nginx?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a stick following a signed channel over http', () => {
  it('carries the channel and the key, not a root hash, and a floor of version 0', async () => {
    expect(stick.channel).toMatchObject({ name: CHANNEL, manifestUrl: `${url}${manifestName(CHANNEL)}` });
    expect(await floorOf(stick.image)).toBe(0);
    process.stdout.write(`channel: initramfs ${stick.initramfs.bytes} bytes zstd (${stick.initramfs.uncompressedBytes} unpacked)\n`);
  });

  let v1Manifest: Buffer;
  it('boots v1; the channel moves to v2 while it runs, and it keeps reading v1 without errors', async () => {
    await publish(v1.image);
    v1Manifest = await readFile(join(www, manifestName(CHANNEL)));
    let moved: Promise<unknown> = Promise.resolve();
    const { r, text, requests, atBoot, at } = await boot(DONE, (line) => {
      if (line.includes(REPLACE)) moved = publish(v2.image);
    });
    await moved;
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toContain('flashroot: channel stable: version 1 (signature good');
    expect(text).toContain('channel-test: running v1');
    expect(text).toContain('flashroot: channel stable: rollback floor raised from version 0 to 1 on the stick (one sector)');
    // Read after the channel named v2: v1's bytes, through dm-verity, no I/O error.
    expect(text).toContain(`channel-test: big ${v1.bigSha256}`);
    expect(text).not.toMatch(/I\/O error|SQUASHFS error|verity.*corrupt/i);
    expect(await floorOf(stick.image)).toBe(1);
    process.stdout.write(bootNumbers('v1 (http)', { r, text, requests, atBoot, at }));
    expect(atBoot.filter((l) => l.includes('.channel'))).toHaveLength(1);
  }, 300_000);

  it('boots v2 at the next boot of the same stick, the image on the host unchanged, writing two sectors of it', async () => {
    const before = await readFile(stick.image);
    const { r, text } = await boot(DONE);
    expect(r.failedOn, text).toBeUndefined();
    expect(text).toContain('channel-test: running v2');
    expect(text).toContain(`channel-test: big ${v2.bigSha256}`);
    expect(text).toContain('rollback floor raised from version 1 to 2');
    expect(await floorOf(stick.image)).toBe(2);
    const changed = changedSectors(before, await readFile(stick.image));
    process.stdout.write(`channel update v1 -> v2: ${changed.length} sectors of the stick written (${changed.join(', ')})\n`);
    // The floor's sector and its directory entry (vfat updates the mtime); nothing is allocated.
    expect(changed.length).toBeLessThanOrEqual(2);
  }, 300_000);

  it('refuses a replayed older manifest, validly signed, and says why', async () => {
    await writeFile(join(www, manifestName(CHANNEL)), v1Manifest);
    const { r, text } = await boot('flashroot: FAIL');
    expect(r.matched, text).toBe(true);
    expect(text).toContain('flashroot: FAIL lower: rollback refused: channel stable version 1 is older than version 2, which this stick has already booted');
    expect(await floorOf(stick.image)).toBe(2);
  }, 300_000);

  it('refuses a manifest signed by another key', async () => {
    // publish refuses another key than the channel's unless told (--new-key): a stick must refuse it anyway.
    await publish(v2.image, { signKey: keyB.sec, version: 3, newKey: true });
    const { r, text } = await boot('flashroot: FAIL');
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/flashroot: FAIL lower: the channel manifest http:\S+stable\.channel is not signed by this stick's key \(signify-openbsd: verification failed: checked against wrong key\)/);
  }, 300_000);

  it('refuses an expired manifest (the clock is the RTC, which QEMU sets to the host time)', async () => {
    await publish(v2.image, { version: 4, expiresInSec: 60, now: new Date(Date.now() - 3_600_000), newKey: true });
    const { r, text } = await boot('flashroot: FAIL');
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/flashroot: FAIL lower: channel stable version 4 expired at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(the clock says /);
    expect(await floorOf(stick.image)).toBe(2);
  }, 300_000);

  it('refuses an image with a changed block (dm-verity against the manifest root hash), never a panic', async () => {
    await publish(v2.image, { version: 5 });
    const published = join(www, v2.image.slice(v2.image.lastIndexOf('/') + 1));
    const saved = join(work, 'v2-saved.sqfs');
    await copyFile(published, saved);
    const fh = await open(published, 'r+');
    await fh.write(Buffer.from([0x5a]), 0, 1, 200);
    await fh.close();
    const { r, text } = await boot('flashroot: FAIL');
    await copyFile(saved, published);
    expect(r.matched, text).toBe(true);
    expect(text).toContain("does not match the root hash in channel stable's manifest (version 5) (dm-verity found a changed block)");
    expect(text).not.toContain('Kernel panic');
    expect(await floorOf(stick.image)).toBe(2);
  }, 300_000);
  it('fails clearly when the server is down at boot (no on-stick copy yet)', async () => {
    await nginx.stop();
    nginx = { ...nginx, stop: () => Promise.resolve() };
    const { r, text } = await boot('flashroot: FAIL');
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/flashroot: cannot fetch http:\S+stable\.channel \(try 1: .*Connection refused.*\); retrying in 1s/);
    expect(text).toMatch(/flashroot: FAIL lower: cannot fetch the channel manifest http:\S+stable\.channel after 12s: .*Connection refused/);
    expect(await floorOf(stick.image)).toBe(2);
  }, 300_000);
});

describe('the same over https (the manifest fetched by curl from the runtime root, the image read by nbdkit)', () => {
  let tlsStick: BuildResult;
  let tlsNginx: Nginx;
  let tlsWww: string;
  beforeAll(async () => {
    const tlsPort = await freePort();
    const ca = await makeTestCa(work);
    tlsStick = await build(
      channelStick({ lower: `https://10.0.2.2:${tlsPort}/images/`, caCert: ca.ca, timeout: 20, out: join(work, 'tls', 'stick.img') }),
      new Reporter(true),
    );
    tlsWww = join(work, 'www-tls', 'images');
    await mkdir(tlsWww, { recursive: true });
    tlsNginx = await startNginx(join(work, 'www-tls'), tlsPort, join(work, 'nginx-tls'), ca);
  }, 400_000);
  afterAll(() => tlsNginx?.stop());

  it('boots the version the channel names, verified with the stick key', async () => {
    await publishChannelToDir(v2.image, tlsWww, { channel: CHANNEL, signKey: keyA.sec, expiresInSec: 3600, version: 9 });
    const b = await boot(DONE, undefined, { stick: tlsStick, nginx: tlsNginx });
    expect(b.r.failedOn, b.text).toBeUndefined();
    expect(b.text).toContain('flashroot: channel stable: version 9 (signature good');
    expect(b.text).toContain('channel-test: running v2');
    expect(b.text).toContain('rollback floor raised from version 0 to 9');
    expect(await floorOf(tlsStick.image)).toBe(9);
    process.stdout.write(bootNumbers('v2 (https)', b).replace('lower http', 'lower https'));
  }, 300_000);
});

describe('the same from a private bucket over https (curl, signed)', () => {
  const creds = NET_S3_KEY;
  let s3Stick: BuildResult;
  let s3: TestS3;
  let ca: Buffer;
  beforeAll(async () => {
    const s3Port = await freePort();
    await mkdir(join(work, 's3'));
    const tls = await makeTestCa(join(work, 's3'));
    ca = await readFile(tls.ca);
    s3Stick = await build(
      channelStick({ lower: 's3://boot/fleet/', endpoint: `https://10.0.2.2:${s3Port}`, signedReads: true, caCert: tls.ca, timeout: 20, out: join(work, 's3', 'stick.img') }),
      new Reporter(true),
      s3KeyEnv(creds),
    );
    s3 = await startTestS3(s3Port, creds, { private: true, tls });
  }, 400_000);
  afterAll(() => s3?.stop());

  it('boots the version the channel names; the manifest is one signed GET', async () => {
    const access = { endpoint: s3.endpoint, creds, ca };
    await publishChannelToS3(v1.image, 's3://boot/fleet/', access, { channel: CHANNEL, signKey: keyA.sec, expiresInSec: 3600 });
    await publishChannelToS3(v2.image, 's3://boot/fleet/', access, { channel: CHANNEL, signKey: keyA.sec, expiresInSec: 3600 });
    const before = s3.requests.length;
    const at = new Map<string, number>();
    const r = await bootImage({
      image: s3Stick.image,
      writable: true,
      network: true,
      expect: DONE,
      failOn: ['flashroot: FAIL', 'Kernel panic'],
      timeoutSec: 240,
      graceMs: 500,
      onLine: (line) => {
        for (const key of [FETCHING, VERIFIED, MOUNTED]) if (line.includes(key) && !at.has(key)) at.set(key, Date.now());
      },
    });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(text).toContain('flashroot: channel stable: version 2 (signature good');
    expect(text).toContain('channel-test: running v2');
    expect(await floorOf(s3Stick.image)).toBe(2);
    const requests = s3.requests.slice(before);
    const forManifest = requests.filter((q) => q.includes('stable.channel'));
    expect(forManifest.filter((q) => q.startsWith('GET '))).toEqual(['GET /boot/fleet/stable.channel']);
    process.stdout.write(
      `channel boot v2 (s3, private, https): ${requests.length} requests (for the manifest: ${forManifest.join(', ')}); manifest request to verified ${(at.get(VERIFIED) ?? NaN) - (at.get(FETCHING) ?? NaN)} ms, ` +
        `to mounted lower ${(at.get(MOUNTED) ?? NaN) - (at.get(FETCHING) ?? NaN)} ms\n`,
    );
  }, 300_000);
});
