/**
 * S3 lowers: images published with `flashroot publish` (signed PUT) to an S3-compatible server on
 * loopback, then booted. A public-read bucket behind an http:// endpoint is read as a web object
 * (httpfs2); a private bucket (--signed-reads) behind an https:// endpoint, as real S3 is, through
 * nbdkit running flashroot's S3 reader, whose every read libcurl signs with the key baked into the initramfs and
 * trusts only --ca-cert — the server refuses anything unsigned. dm-verity checks both.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishToS3 } from '../../src/network/publish.js';
import type { S3Credentials } from '../../src/network/s3.js';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { DEMO_MARKER } from '../../src/root/demo-root.js';
import { Reporter } from '../../src/util/log.js';
import { BOOT_FAILURES, buildDemo } from '../helpers/demo.js';
import { makeNetRoot, NET_BOOTED, NET_DONE, NET_INIT, NET_SECRET } from '../helpers/net-root.js';
import { freePort } from '../helpers/nginx.js';
import { startTestS3, type TestS3 } from '../helpers/s3-server.js';
import { makeTestCa, type TestCa } from '../helpers/tls.js';

const CREDS: S3Credentials = { accessKeyId: 'FLASHROOTTEST', secretAccessKey: NET_SECRET, region: 'us-east-1' };
let work: string;
let publicS3: TestS3;
let publicStick: BuildResult;
let privatePort: number;
let privateS3: TestS3 | undefined;
let privateStick: BuildResult;
let tls: TestCa;
let bigASha256: string;

/** The status of an unsigned GET over https, trusting the test CA. */
async function unsignedStatus(url: string): Promise<number> {
  const ca = await readFile(tls.ca);
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

const keyEnv = (c: S3Credentials): NodeJS.ProcessEnv => ({ ...process.env, AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_REGION: c.region });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-s3-'));
  const publicPort = await freePort();
  publicS3 = await startTestS3(publicPort, CREDS);
  publicStick = await buildDemo({ lower: 's3://boot/sticks/', endpoint: `http://10.0.2.2:${publicPort}`, boot: 'bios', timeout: 12 });
  privatePort = await freePort();
  tls = await makeTestCa(work);
  const root = await makeNetRoot(join(work, 'root'));
  bigASha256 = createHash('sha256').update(root.bigA).digest('hex');
  privateStick = await build(
    {
      root: root.dir,
      init: NET_INIT,
      lower: 's3://boot/private/',
      endpoint: `https://10.0.2.2:${privatePort}`,
      caCert: tls.ca,
      signedReads: true,
      out: join(work, 'private.img'),
      boot: 'bios',
      menuTimeout: 0,
      timeout: 12,
      onfail: 'poweroff',
    },
    new Reporter(true),
    // The key as a user gives it: in the environment, never on the command line.
    keyEnv(CREDS),
  );
}, 300_000);

afterAll(async () => {
  await publicS3.stop();
  await privateS3?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('root image in an S3 bucket', () => {
  it('public-read: publishes with a signed PUT and boots from the object over http', async () => {
    const net = publicStick.network as NonNullable<BuildResult['network']>;
    expect(net.url).toMatch(/^http:\/\/10\.0\.2\.2:\d+\/boot\/sticks\/root-[0-9a-f]{64}\.sqfs$/);
    const published = await publishToS3(net.path, 's3://boot/sticks/', { endpoint: publicS3.endpoint, creds: CREDS });
    expect(net.url.endsWith(published.name)).toBe(true);
    const r = await bootImage({ image: publicStick.image, network: true, expect: DEMO_MARKER, failOn: BOOT_FAILURES, timeoutSec: 200 });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/flashroot: lower http:\/\/10\.0\.2\.2:\d+\/boot\/sticks\/root-\w+\.sqfs \(dm-verity V\)/);
    expect(text).toContain('flashroot-demo: fidelity motd links=2 mode=755');
    process.stdout.write(`s3 public boot: root init after ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s\n`);
  }, 300_000);

  it('private (--signed-reads) over https: every request is signed by the stick, the key stays out of the booted system', async () => {
    privateS3 = await startTestS3(privatePort, CREDS, { private: true, tls });
    const net = privateStick.network as NonNullable<BuildResult['network']>;
    expect(net.url).toMatch(/^s3:\/\/boot\/private\/root-[0-9a-f]{64}\.sqfs$/);
    const key = `/boot/private/${net.url.split('/').pop() ?? ''}`;
    await publishToS3(net.path, 's3://boot/private/', { endpoint: privateS3.endpoint, creds: CREDS, ca: await readFile(tls.ca) });
    expect(privateS3.objects.has(key)).toBe(true);
    // The bucket really is private: the same GET without a signature is refused.
    expect(await unsignedStatus(`${privateS3.endpoint}${key}`)).toBe(403);
    const s3 = privateS3;
    // Publishing and the unsigned check above made requests of their own.
    const requestsBeforeBoot = s3.requests.length;
    let bytesAtBoot = -1;
    let msToInit = -1;
    const t0 = Date.now();
    const r = await bootImage({
      image: privateStick.image,
      network: true,
      expect: NET_DONE,
      failOn: BOOT_FAILURES,
      timeoutSec: 200,
      onLine: (line) => {
        if (!line.includes(NET_BOOTED)) return;
        bytesAtBoot = s3.bytesServed();
        msToInit = Date.now() - t0;
      },
    });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/flashroot: lower s3:\/\/boot\/private\/root-\w+\.sqfs \(dm-verity V\)/);
    expect(text).toContain('net-test: fidelity chain=/srv/target links=3 suid=4755 owner=1000:1000:640');
    expect(text).toContain('net-test: runtime root hidden');
    expect(text).toContain('net-test: command lines naming the secret: 0');
    // A 4 MiB file read after boot: ranges fetched on demand, verified by dm-verity.
    expect(text).toContain(`net-test: big-a ${bigASha256}`);
    // The S3 reader asks for the image's first byte (its size, or the refusal and why), then reads
    // ranges of it: no listing, no HEAD.
    const booted = s3.requests.slice(requestsBeforeBoot);
    expect(booted[0]).toBe(`GET ${key}`);
    expect(booted.every((q) => q === `GET ${key}`)).toBe(true);
    expect(bytesAtBoot).toBeGreaterThan(0);
    expect(bytesAtBoot).toBeLessThan(net.bytes / 3);
    process.stdout.write(
      `s3 private boot: root init after ${(msToInit / 1000).toFixed(1)} s (from starting QEMU); fetched ${bytesAtBoot} of ${net.bytes} bytes at boot; initramfs ${privateStick.initramfs.bytes} bytes zstd; ${s3.requests.length} requests\n`,
    );
  }, 300_000);

  it('private with a key the bucket does not accept: FAIL naming the refusal, after the retries', async () => {
    await privateS3?.stop();
    privateS3 = await startTestS3(privatePort, { ...CREDS, secretAccessKey: 'rotated-secret' }, { private: true, tls });
    const r = await bootImage({ image: privateStick.image, network: true, expect: 'flashroot: FAIL', timeoutSec: 200 });
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/flashroot: FAIL lower: cannot reach s3:\/\/boot\/private\/root-\w+\.sqfs after 12s: .*SignatureDoesNotMatch/);
    expect(text).toMatch(/retrying in \ds/);
  }, 300_000);
});
