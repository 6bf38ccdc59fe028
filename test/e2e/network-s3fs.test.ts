/**
 * File-level S3 lower: the network test root published with `flashroot publish ROOT s3fs://…` (in
 * s3fs's object format, signed PUTs) to the loopback S3 server in private mode (unsigned reads
 * refused) behind an https:// endpoint whose certificate comes from a test CA (--ca-cert for the
 * stick), a stick built with --signed-reads (the key from the environment of the build only),
 * one boot: s3fs mounts the tree from the runtime root and the root's init reports what survived
 * and what the booted system can see of the key. The server stays up: with a file-level lower a
 * stopped server fails even the creation of files in the RAM upper (overlayfs looks the name up
 * in the lower first), and the test root's init, a script read from the lower, dies of it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Credentials } from '../../src/network/s3.js';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { Reporter } from '../../src/util/log.js';
import { run } from '../../src/util/run.js';
import { BOOT_FAILURES } from '../helpers/demo.js';
import { BIG_FILE_BYTES, makeNetRoot, NET_BOOTED, NET_DONE, NET_INIT, NET_SECRET, NET_STOP_SERVER } from '../helpers/net-root.js';
import { freePort } from '../helpers/nginx.js';
import { startTestS3, type TestS3 } from '../helpers/s3-server.js';
import { makeTestCa } from '../helpers/tls.js';

const CREDS: S3Credentials = { accessKeyId: 'FLASHROOTS3FS', secretAccessKey: NET_SECRET, region: 'eu-west-3' };
const TARGET = 's3fs://boot/roots/net/';
const AWS_ENV = { AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, AWS_REGION: CREDS.region };

let work: string;
let port: number;
let s3: TestS3;
let stick: BuildResult;
let published: string;
let publishArgs: string[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-s3fs-'));
  const root = join(work, 'root');
  await makeNetRoot(root);
  port = await freePort();
  const tls = await makeTestCa(work);
  s3 = await startTestS3(port, CREDS, { private: true, tls });
  publishArgs = ['--endpoint', s3.endpoint, '--ca-cert', tls.ca];
  published = (await run('node', ['bin/flashroot.js', 'publish', root, TARGET, ...publishArgs], { env: AWS_ENV, timeoutMs: 120_000 })).stdout;
  stick = await build(
    {
      root,
      init: NET_INIT,
      out: join(work, 'stick.img'),
      lower: TARGET,
      endpoint: `https://10.0.2.2:${port}`,
      caCert: tls.ca,
      signedReads: true,
      boot: 'bios',
      menuTimeout: 0,
      timeout: 15,
      onfail: 'poweroff',
    },
    new Reporter(true),
    { ...process.env, ...AWS_ENV },
  );
}, 300_000);

afterAll(async () => {
  await s3.stop();
  await rm(work, { recursive: true, force: true });
});

describe('root tree in a private bucket over s3fs', () => {
  it('publishes the tree in s3fs object format, reporting the hard links it cannot keep', () => {
    // The demo root's motd pair and the test root's triple.
    expect(published).toMatch(/5 × hard links: each name is its own object .* \(e\.g\. \/etc\/motd, \/etc\/motd\.hardlink, \/srv\/hl-1\)/);
    expect(published).toContain(`boot it with: --lower ${TARGET} --endpoint ${s3.endpoint}`);
    const dir = s3.objects.get('/boot/roots/net/srv/');
    expect(dir?.meta['x-amz-meta-mode']).toBe(String(0o40755));
    expect(s3.objects.get('/boot/roots/net/srv/chain-2')?.data.toString()).toBe('/srv/chain-3');
    expect(s3.objects.get('/boot/roots/net/srv/owned')?.meta).toMatchObject({ 'x-amz-meta-uid': '1000', 'x-amz-meta-gid': '1000', 'x-amz-meta-mode': String(0o100640) });
    // The build reports the same, and the stick carries no root.
    expect(stick.fidelity?.map((l) => l.count)).toEqual([5]);
  });

  it('refuses to publish over a tree that is there', async () => {
    const again = await run('node', ['bin/flashroot.js', 'publish', join(work, 'root'), TARGET, ...publishArgs], { env: AWS_ENV, okExitCodes: [6] });
    expect(again.stderr).toMatch(/already holds objects/);
  });

  it('boots to the root init: symlinks, modes and owners survive, hard links do not, the key stays out of the root', async () => {
    const treeBytes = [...s3.objects.values()].reduce((n, o) => n + o.data.length, 0);
    let bytesAtBoot = -1;
    let requestsAtBoot = -1;
    let afterBigA = -1;
    let bootedMs = -1;
    const started = performance.now();
    const r = await bootImage({
      image: stick.image,
      network: true,
      expect: NET_DONE,
      failOn: BOOT_FAILURES,
      timeoutSec: 280,
      graceMs: 500,
      onLine: (line) => {
        if (line.includes(NET_BOOTED)) [bootedMs, bytesAtBoot, requestsAtBoot] = [performance.now() - started, s3.bytesServed(), s3.requests.length];
        if (line.includes(NET_STOP_SERVER)) afterBigA = s3.bytesServed();
      },
    });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toContain(`flashroot: lower ${TARGET} (s3fs, file-level)`);
    expect(text).toMatch(/net-test: lower \S+ fuse\.s3fs/);
    const fidelity = /net-test: fidelity (.*)/.exec(text)?.[1];
    process.stdout.write(
      [
        `s3fs boot: root init reached after ${(bootedMs / 1000).toFixed(1)} s (its last line after ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s); initramfs ${stick.initramfs.bytes} bytes zstd (${stick.initramfs.uncompressedBytes} unpacked)`,
        `s3fs boot: fetched ${bytesAtBoot} bytes of a ${treeBytes}-byte tree to the root's init, ${afterBigA} after reading a ${BIG_FILE_BYTES}-byte file; ${requestsAtBoot} requests to the root's init`,
        `s3fs boot: fidelity ${fidelity}`,
        '',
      ].join('\n'),
    );
    expect(fidelity).toBe('chain=/srv/target links=1 suid=4755 owner=1000:1000:640');
    // The passwd file is in the runtime root, hidden; the secret is on no command line.
    expect(text).toContain('net-test: runtime root hidden');
    expect(text).toContain('net-test: command lines naming the secret: 0');
    expect(text).toContain(`net-test: big-a`);
    expect(bytesAtBoot).toBeGreaterThan(0);
    expect(afterBigA - bytesAtBoot).toBeGreaterThanOrEqual(BIG_FILE_BYTES);
    expect(text).toContain('net-test: read after server restart ok');
  }, 300_000);
});
