/**
 * S3 lower: publish the image to an S3-compatible server on loopback (signed PUT), build the stick
 * with --lower s3://BUCKET/PREFIX/ --endpoint, boot it: the object is read lazily, path-style, as
 * from a public-read bucket, and dm-verity checks it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishToS3 } from '../../src/network/publish.js';
import type { S3Credentials } from '../../src/network/s3.js';
import type { BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { DEMO_MARKER } from '../../src/root/demo-root.js';
import { BOOT_FAILURES, buildDemo } from '../helpers/demo.js';
import { freePort } from '../helpers/nginx.js';
import { startTestS3, type TestS3 } from '../helpers/s3-server.js';

const CREDS: S3Credentials = { accessKeyId: 'FLASHROOTTEST', secretAccessKey: 'not-a-real-secret', region: 'us-east-1' };
let s3: TestS3;
let stick: BuildResult;

beforeAll(async () => {
  const port = await freePort();
  s3 = await startTestS3(port, CREDS);
  stick = await buildDemo({ lower: 's3://boot/sticks/', endpoint: `http://10.0.2.2:${port}`, boot: 'bios', timeout: 12 });
}, 300_000);

afterAll(() => s3.stop());

describe('root image in an S3 bucket', () => {
  it('publishes with a signed PUT and boots from the object to the root init', async () => {
    const net = stick.network as NonNullable<BuildResult['network']>;
    expect(net.url).toMatch(/^http:\/\/10\.0\.2\.2:\d+\/boot\/sticks\/root-[0-9a-f]{64}\.sqfs$/);
    const published = await publishToS3(net.path, 's3://boot/sticks/', s3.endpoint, CREDS);
    expect(net.url.endsWith(published.name)).toBe(true);
    const r = await bootImage({ image: stick.image, network: true, expect: DEMO_MARKER, failOn: BOOT_FAILURES, timeoutSec: 200 });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/flashroot: lower http:\/\/10\.0\.2\.2:\d+\/boot\/sticks\/root-\w+\.sqfs \(dm-verity V\)/);
    expect(text).toContain('flashroot-demo: fidelity motd links=2 mode=755');
    process.stdout.write(`s3 boot: root init after ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s\n`);
  }, 300_000);
});
