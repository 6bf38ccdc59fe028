/**
 * S3 lowers: an image published with `flashroot publish` (signed PUT) to a public-read bucket
 * behind an http:// endpoint, read as a web object (httpfs2); and a private bucket (--signed-reads)
 * behind an https:// endpoint, as real S3 is, read through nbdkit running flashroot's S3 reader,
 * whose every read libcurl signs with the key baked into the initramfs and trusts only --ca-cert:
 * the server refuses anything unsigned. The private one runs the image lowers' scenarios
 * (test/helpers/net-image.ts: the good boot, the server stopped and stalled under the running
 * root) and what only it has: the bucket really private, a key the bucket no longer accepts.
 * dm-verity checks both.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishToS3 } from '../../src/network/publish.js';
import type { BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { DEMO_MARKER } from '../../src/root/demo-root.js';
import { BOOT_FAILURES, buildDemo } from '../helpers/demo.js';
import { describeImageLower, type ImageLower } from '../helpers/net-image.js';
import { NET_S3_KEY } from '../helpers/net-root.js';
import { freePort } from '../helpers/nginx.js';
import { startTestS3, type TestS3 } from '../helpers/s3-server.js';

/** The status of an unsigned GET over https, trusting the given CA. */
async function unsignedStatus(url: string, caFile: string): Promise<number> {
  const ca = await readFile(caFile);
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('root image in a public-read S3 bucket', () => {
  let publicS3: TestS3;
  let publicStick: BuildResult;
  beforeAll(async () => {
    const publicPort = await freePort();
    publicS3 = await startTestS3(publicPort, NET_S3_KEY);
    publicStick = await buildDemo({ lower: 's3://boot/sticks/', endpoint: `http://10.0.2.2:${publicPort}`, boot: 'bios', timeout: 12 });
  }, 300_000);
  afterAll(() => publicS3.stop());

  it('publishes with a signed PUT and boots from the object over http', async () => {
    const net = publicStick.network as NonNullable<BuildResult['network']>;
    expect(net.url).toMatch(/^http:\/\/10\.0\.2\.2:\d+\/boot\/sticks\/root-[0-9a-f]{64}\.sqfs$/);
    const published = await publishToS3(net.path, 's3://boot/sticks/', { endpoint: publicS3.endpoint, creds: NET_S3_KEY });
    expect(net.url.endsWith(published.name)).toBe(true);
    const r = await bootImage({ image: publicStick.image, network: true, expect: DEMO_MARKER, failOn: BOOT_FAILURES, timeoutSec: 200 });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toContain(`flashroot: lower ${net.url} (dm-verity, root hash ${net.rootHash})`);
    expect(text).toContain('flashroot-demo: fidelity motd links=2 mode=755');
    process.stdout.write(`s3 public boot: root init after ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s\n`);
  }, 300_000);
});

describeImageLower('s3', {}, (s: ImageLower) => {
  it('the bucket is private: the same GET without a signature is refused', async () => {
    await s.stopServer();
    await s.serve('private-check');
    expect(await unsignedStatus(`https://127.0.0.1:${s.port}${s.imagePath}`, s.tls?.ca ?? '')).toBe(403);
    await s.stopServer();
  });

  it('a key the bucket does not accept: FAIL naming the refusal, after the retries', async () => {
    const rotated = await startTestS3(s.port, { ...NET_S3_KEY, secretAccessKey: 'rotated-secret' }, { private: true, tls: s.tls });
    try {
      const r = await s.boot('flashroot: FAIL', { failOn: ['Kernel panic'], timeoutSec: 200 });
      const text = r.console.join('\n');
      expect(r.matched, text).toBe(true);
      expect(text).toMatch(/flashroot: FAIL lower: cannot reach s3:\/\/images\/root-\w+\.sqfs after \d+s: .*SignatureDoesNotMatch/);
      expect(text).toMatch(/retrying in \ds/);
    } finally {
      await rotated.stop();
    }
  }, 300_000);
});
