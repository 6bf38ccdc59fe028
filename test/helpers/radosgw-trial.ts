/**
 * The s3:// path against a real S3 implementation (Ceph radosgw, from test/helpers/radosgw.sh),
 * side by side with our test server: publish (plain and --channel) with flashroot's own code,
 * conditional PUTs, listings and ranges, each answer compared. A manual trial, not in the suite
 * (docs/network.md, "Tried against Ceph radosgw" says why); run it as
 *
 *   eval "$(test/helpers/radosgw.sh start)" && node --import tsx test/helpers/radosgw-trial.ts; test/helpers/radosgw.sh stop
 *
 * It prints one line per check, SAME or DIFF, and exits 1 when publish itself fails there.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signatureKeyNumber, signifyKeyNumber } from '../../src/network/channel.js';
import { publishChannelToS3, publishToS3 } from '../../src/network/publish.js';
import { credentialsFromEnv, objectUrl, s3Request, type S3Access } from '../../src/network/s3.js';
import { run } from '../../src/util/run.js';
import { freePort } from './nginx.js';
import { startTestS3 } from './s3-server.js';
import { verityImage } from './verity-image.js';

const endpoint = process.env.S3_ENDPOINT;
if (!endpoint) throw new Error('S3_ENDPOINT is not set: eval "$(test/helpers/radosgw.sh start)" first');
const creds = credentialsFromEnv();
// Private, as a radosgw bucket is by default.
const test = await startTestS3(await freePort(), creds, { private: true });
const servers: Record<string, S3Access> = { radosgw: { endpoint, creds }, test: { endpoint: test.endpoint, creds } };
const work = await mkdtemp(join(tmpdir(), 'flashroot-radosgw-trial-'));
const bucket = `trial-${Date.now()}`;
let failed = false;

const code = (body: string) => /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? '';
function compare(what: string, answers: Record<string, string>): void {
  const same = answers.radosgw === answers.test;
  console.log(`${same ? 'SAME' : 'DIFF'} ${what}: radosgw ${answers.radosgw}${same ? '' : ` | test ${answers.test}`}`);
}
async function each(what: string, f: (a: S3Access) => Promise<string>): Promise<void> {
  const answers: Record<string, string> = {};
  for (const [name, access] of Object.entries(servers)) answers[name] = await f(access).catch((e: unknown) => `threw ${(e as Error).message.split('\n')[0]}`);
  compare(what, answers);
}

try {
  // The test server has no buckets to make; radosgw needs one.
  const made = await s3Request('PUT', new URL(`${endpoint}/${bucket}`), { creds }, { data: Buffer.alloc(0) });
  if (made.status !== 200) throw new Error(`PUT bucket ${bucket} answered ${made.status} ${code(made.body)}`);
  const [v1, v2] = [await verityImage(work, 'v1', 1024 * 1024), await verityImage(work, 'v2', 1024 * 1024)];
  const key = { pub: join(work, 'k.pub'), sec: join(work, 'k.sec') };
  await run('signify-openbsd', ['-G', '-n', '-p', key.pub, '-s', key.sec]);
  const c = { channel: 'stable', signKey: key.sec, expiresInSec: 86400 };
  const target = `s3://${bucket}/fleet/`;

  await each('publish IMAGE (plain), twice', async (a) => {
    const r1 = await publishToS3(v1, `s3://${bucket}/plain/`, a);
    const r2 = await publishToS3(v1, `s3://${bucket}/plain/`, a);
    return `existed ${r1.existed} then ${r2.existed}`;
  });
  await each('publish --channel v1, v2, then v1 again as v3', async (a) => {
    const versions = [];
    for (const image of [v1, v2, v1]) versions.push((await publishChannelToS3(image, target, a, c)).manifest.version);
    return `versions ${versions.join(',')}`;
  });
  await each('the manifest: headers and signature key', async (a) => {
    const r = await s3Request('GET', objectUrl(a.endpoint, bucket, 'fleet/stable.channel'), a);
    const signedBy = signatureKeyNumber(r.body, 'the manifest') === signifyKeyNumber(await readFile(key.sec, 'utf8'), key.sec, 'secret');
    return `${r.status} content-type ${r.headers['content-type']} cache-control ${r.headers['cache-control'] ?? '-'} signed by the sign key ${signedBy}`;
  });
  const image = (await publishToS3(v2, target, servers.radosgw as S3Access)).name;
  await each('the image: headers', async (a) => {
    const r = await s3Request('HEAD', objectUrl(a.endpoint, bucket, `fleet/${image}`), a);
    return `${r.status} content-type ${r.headers['content-type']} cache-control ${r.headers['cache-control'] ?? '-'} sha256 meta ${r.headers['x-amz-meta-sha256'] === image.slice(5, 69) ? 'ok' : String(r.headers['x-amz-meta-sha256'])} etag ${/^"[0-9a-f]{32}"$/.test(String(r.headers.etag)) ? 'md5' : r.headers.etag}`;
  });

  // Conditional PUTs, each on a fresh key.
  const put = async (a: S3Access, k: string, data: string, extra: Record<string, string>) => {
    const r = await s3Request('PUT', objectUrl(a.endpoint, bucket, k), a, { data: Buffer.from(data), extra });
    const g = await s3Request('GET', objectUrl(a.endpoint, bucket, k), a);
    return { status: `${r.status}${code(r.body) ? ` ${code(r.body)}` : ''} -> ${g.status === 200 ? `'${g.body}'` : g.status}`, etag: String(g.headers.etag) };
  };
  let n = 0;
  const fresh = () => `cond/${n++}`;
  const conditional = async (what: string, f: (a: S3Access, k: string) => Promise<string>) => {
    const k = fresh();
    await each(what, (a) => f(a, k));
  };
  await conditional('PUT If-None-Match: * on a new key', async (a, k) => (await put(a, k, 'one', { 'if-none-match': '*' })).status);
  await conditional('PUT If-None-Match: * on an existing key', async (a, k) => (await put(a, k, 'one', {}), (await put(a, k, 'two', { 'if-none-match': '*' })).status));
  await conditional('PUT If-Match: its ETag as returned (quoted)', async (a, k) => (await put(a, k, 'one', {}).then((p) => put(a, k, 'two', { 'if-match': p.etag }))).status);
  await conditional('PUT If-Match: its ETag bare', async (a, k) => (await put(a, k, 'one', {}).then((p) => put(a, k, 'two', { 'if-match': p.etag.replace(/"/g, '') }))).status);
  await conditional('PUT If-Match: another ETag', async (a, k) => (await put(a, k, 'one', {}), (await put(a, k, 'two', { 'if-match': '0123456789abcdef0123456789abcdef' })).status));
  await conditional('PUT If-Match: on a missing key', async (a, k) => (await put(a, k, 'two', { 'if-match': '0123456789abcdef0123456789abcdef' })).status);

  // Listings and ranges over the same keys.
  const keys = ['l/a/1', 'l/a/2', 'l/a/b/3', 'l/c', 'l/d/4', 'l/sp ace', 'l/a+b'];
  for (const a of Object.values(servers)) for (const k of keys) await s3Request('PUT', objectUrl(a.endpoint, bucket, k), a, { data: Buffer.from('0123456789') });
  const pick = (body: string, tag: string) => [...body.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]).join(',');
  for (const q of ['?prefix=l/', '?list-type=2&prefix=l/a/&delimiter=/', '?prefix=l/&delimiter=/&max-keys=2', '?list-type=2&prefix=l/&max-keys=2', '?list-type=2&prefix=l/&start-after=l/a/b/3']) {
    await each(`GET listing ${q}`, async (a) => {
      const r = await s3Request('GET', new URL(`${a.endpoint}/${bucket}/${q}`), a);
      return `${r.status} keys [${pick(r.body, 'Key')}] prefixes [${pick(r.body, 'Prefix')}] truncated ${pick(r.body, 'IsTruncated')} next [${pick(r.body, 'NextMarker')}${pick(r.body, 'NextContinuationToken')}]`;
    });
  }
  for (const range of ['bytes=0-3', 'bytes=8-', 'bytes=-4', 'bytes=5-100', 'bytes=10-', 'bytes=3-1', 'bytes=0-1,4-5']) {
    await each(`GET Range: ${range}`, async (a) => {
      const r = await s3Request('GET', objectUrl(a.endpoint, bucket, 'l/c'), a, { extra: { range } });
      return `${r.status} ${r.headers['content-range'] ?? '-'} ${r.status < 300 ? `'${r.body}'` : code(r.body)}`;
    });
  }
  await each('anonymous GET of a private object', async (a) => String((await fetch(objectUrl(a.endpoint, bucket, 'l/c'))).status));
} catch (e) {
  failed = true;
  console.error(`trial failed: ${(e as Error).message}`);
} finally {
  await test.stop();
  await rm(work, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
