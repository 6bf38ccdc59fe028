import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlashrootError } from '../../src/errors.js';
import { publishToS3 } from '../../src/network/publish.js';
import type { S3Credentials } from '../../src/network/s3.js';
import { sha256File } from '../../src/util/hash.js';
import { run } from '../../src/util/run.js';
import { freePort } from '../helpers/nginx.js';
import { startTestS3, type TestS3 } from '../helpers/s3-server.js';
import { makeTestCa } from '../helpers/tls.js';

const CREDS: S3Credentials = { accessKeyId: 'FLASHROOTTEST', secretAccessKey: 'not-a-real-secret', region: 'us-east-1' };
let work: string;
let image: string;
let s3: TestS3;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-publish-s3-'));
  await mkdir(join(work, 'root/etc'), { recursive: true });
  await writeFile(join(work, 'root/etc/hostname'), 'in a bucket\n');
  image = join(work, 'root.sqfs');
  await run('mksquashfs', [join(work, 'root'), image, '-noappend', '-quiet']);
  s3 = await startTestS3(await freePort(), CREDS);
});

afterAll(async () => {
  await s3.stop();
  await rm(work, { recursive: true, force: true });
});

describe('flashroot publish IMAGE s3://BUCKET/PREFIX/ --endpoint URL', () => {
  it('uploads under the content-addressed key with a signed PUT, and says how to boot it', async () => {
    const sha = await sha256File(image);
    const r = await publishToS3(image, 's3://boot/sticks/', { endpoint: s3.endpoint, creds: CREDS });
    expect(r).toMatchObject({ path: `s3://boot/sticks/root-${sha}.sqfs`, existed: false, lower: `s3://boot/sticks/root-${sha}.sqfs` });
    const stored = s3.objects.get(`/boot/sticks/root-${sha}.sqfs`);
    expect(stored?.meta['x-amz-meta-sha256']).toBe(sha);
    const ranged = await fetch(`${s3.endpoint}/boot/sticks/root-${sha}.sqfs`, { headers: { range: 'bytes=0-3' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).toString('latin1')).toBe('hsqs');
  });

  it('is idempotent, and never overwrites an object that is not this image', async () => {
    expect((await publishToS3(image, 's3://boot/sticks/', { endpoint: s3.endpoint, creds: CREDS })).existed).toBe(true);
    const sha = await sha256File(image);
    s3.put(`/boot/other/root-${sha}.sqfs`, Buffer.from('something else'));
    await expect(publishToS3(image, 's3://boot/other/', { endpoint: s3.endpoint, creds: CREDS })).rejects.toMatchObject({ code: 'ESAFETY' });
    expect(s3.objects.get(`/boot/other/root-${sha}.sqfs`)?.data.toString()).toBe('something else');
  });

  it('reports a wrong secret as a 403 with a hint, uploading nothing', async () => {
    const before = s3.objects.size;
    const err = await publishToS3(image, 's3://boot/denied/', { endpoint: s3.endpoint, creds: { ...CREDS, secretAccessKey: 'wrong' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashrootError);
    const e = err as FlashrootError;
    expect([e.code, e.hint]).toEqual(['ES3', expect.stringMatching(/AWS_SECRET_ACCESS_KEY/) as unknown]);
    expect(e.message).toMatch(/^HEAD \S+ answered 403/);
    expect(s3.objects.size).toBe(before);
  });

  it('takes credentials from the environment only, from the command line', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey };
    const r = await run('node', ['bin/flashroot.js', 'publish', image, 's3://boot/cli/', '--endpoint', s3.endpoint], { env });
    expect(r.stdout).toMatch(/^boot it with: --lower s3:\/\/boot\/cli\/root-[0-9a-f]{64}\.sqfs --endpoint http:\/\/127\.0\.0\.1:\d+$/m);
    const missing = await run('node', ['bin/flashroot.js', 'publish', image, 's3://boot/cli/', '--endpoint', s3.endpoint], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
      okExitCodes: [2],
    });
    expect(missing.stderr).toContain('no S3 credentials');
  });

  it('over https: a certificate from a private CA is refused with a hint, and trusted with --ca-cert', async () => {
    const tls = await makeTestCa(work);
    const secure = await startTestS3(await freePort(), CREDS, { tls });
    try {
      const env = { ...process.env, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey };
      const args = ['bin/flashroot.js', 'publish', image, 's3://boot/tls/', '--endpoint', secure.endpoint];
      const untrusted = await run('node', args, { env, okExitCodes: [1] });
      expect(untrusted.stderr).toMatch(/HEAD https:\/\/127\.0\.0\.1:\d+\/boot\/tls\/root-\w+\.sqfs failed: (unable to verify|self[- ]signed)/);
      expect(untrusted.stderr).toContain('give that CA with --ca-cert FILE');
      expect(secure.objects.size).toBe(0);
      const trusted = await run('node', [...args, '--ca-cert', tls.ca], { env });
      expect(trusted.stdout).toMatch(/^published: s3:\/\/boot\/tls\/root-[0-9a-f]{64}\.sqfs/m);
      expect(secure.objects.size).toBe(1);
    } finally {
      await secure.stop();
    }
  });
});
