/**
 * A small S3-compatible server on 127.0.0.1 for tests, path-style (/bucket/key): signed PUT with
 * If-None-Match, HEAD, ranged GET and bucket listings (ListObjects v1 and v2, prefix, delimiter,
 * paging). Unlike s3rver it checks SigV4 signatures, query string included, and the payload hash.
 * A public bucket serves anonymous reads (signed ones must still hold); a private one refuses them.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { signV4, type S3Credentials } from '../../src/network/s3.js';
import type { TlsFiles } from './nginx.js';

interface StoredObject {
  data: Buffer;
  meta: Record<string, string>;
  modified: Date;
  /** md5 of data, bare: computed once at the write (per request it cost ~0.1 s on a 50 MB image, in every read's latency). */
  etag: string;
}

const stored = (data: Buffer, meta: Record<string, string>): StoredObject => ({ data, meta, modified: new Date(), etag: createHash('md5').update(data).digest('hex') });

export interface TestS3 {
  endpoint: string;
  /** Keyed by /bucket/key. */
  objects: Map<string, StoredObject>;
  /** Stores an object directly, as another writer of the bucket would. */
  put(key: string, data: Buffer, meta?: Record<string, string>): void;
  /** Every request as "METHOD path?query" (for asserting what a client did). */
  requests: string[];
  /** Object bytes sent in GET answers. */
  bytesServed(): number;
  /** Takes requests and holds their answers, as a hung server (nginx's pause, in this process). */
  pause(): void;
  /** Answers what it held, and from then on at once. */
  resume(): void;
  /** Stops listening and drops open connections (a client's kept-alive one too): refused from now on. */
  stop(): Promise<void>;
}

export interface TestS3Options {
  /** Refuse unsigned reads (403 AccessDenied), as a bucket without a public-read policy does. */
  private?: boolean;
  /** Serve https:// with this certificate (as real S3 endpoints do). */
  tls?: TlsFiles;
}

const UNSIGNED = 'UNSIGNED-PAYLOAD';

function signatureHolds(req: IncomingMessage, creds: S3Credentials, payloadSha256: string): boolean {
  const auth = req.headers.authorization ?? '';
  const signed = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  const headers = Object.fromEntries(signed.map((h) => [h, String(req.headers[h] ?? '')]));
  return auth === signV4(req.method ?? '', new URL(req.url ?? '/', 'http://x'), headers, payloadSha256, creds);
}

function answer(res: ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: Buffer | string): void {
  res.writeHead(status, headers);
  res.end(body);
}

const s3Error = (code: string): string => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code></Error>`;

const xml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** One page of a bucket listing, in the v1 or v2 dialect the request asked for. */
function listBucket(objects: Map<string, StoredObject>, bucket: string, q: URLSearchParams): string {
  const v2 = q.get('list-type') === '2';
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = Math.min(Number(q.get('max-keys') ?? 1000), 1000);
  const after = (v2 ? (q.get('continuation-token') ?? q.get('start-after')) : q.get('marker')) ?? '';
  const keys = [...objects.keys()]
    .filter((k) => k.startsWith(`/${bucket}/`))
    .map((k) => k.slice(bucket.length + 2))
    .filter((k) => k.startsWith(prefix) && k > after)
    .sort();
  const entries: { key: string; common: boolean }[] = [];
  for (const key of keys) {
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const entry = cut < 0 ? { key, common: false } : { key: key.slice(0, cut + delimiter.length), common: true };
    const last = entries[entries.length - 1];
    if (last?.common && last.key === entry.key) continue;
    entries.push(entry);
  }
  const page = entries.slice(0, maxKeys);
  const truncated = entries.length > maxKeys;
  // A common prefix stands for every key below it: continue after all of them.
  const next = truncated ? `${page[page.length - 1]?.key ?? ''}${page[page.length - 1]?.common ? '\u{10ffff}' : ''}` : '';
  const body = page.map(({ key, common }) => {
    if (common) return `<CommonPrefixes><Prefix>${xml(key)}</Prefix></CommonPrefixes>`;
    const o = objects.get(`/${bucket}/${key}`) as StoredObject;
    return `<Contents><Key>${xml(key)}</Key><LastModified>${o.modified.toISOString()}</LastModified><ETag>&quot;${o.etag}&quot;</ETag><Size>${o.data.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
  });
  const paging = v2
    ? `<KeyCount>${page.length}</KeyCount>${truncated ? `<NextContinuationToken>${xml(next)}</NextContinuationToken>` : ''}`
    : `<Marker>${xml(after)}</Marker>${truncated ? `<NextMarker>${xml(next)}</NextMarker>` : ''}`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xml(bucket)}</Name><Prefix>${xml(prefix)}</Prefix>${
    delimiter ? `<Delimiter>${xml(delimiter)}</Delimiter>` : ''
  }<MaxKeys>${maxKeys}</MaxKeys>${paging}<IsTruncated>${truncated}</IsTruncated>${body.join('')}</ListBucketResult>`;
}

export async function startTestS3(port: number, creds: S3Credentials, opts: TestS3Options = {}): Promise<TestS3> {
  const objects = new Map<string, StoredObject>();
  const requests: string[] = [];
  let served = 0;
  let held: (() => void)[] | undefined;
  const handle: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => (held ? held.push(respond) : respond()));
    const respond = (): void => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      const key = decodeURIComponent(url.pathname);
      requests.push(`${req.method} ${key}${url.search}`);
      const claimed = String(req.headers['x-amz-content-sha256'] ?? '');
      if (req.headers.authorization !== undefined || req.method === 'PUT') {
        const payloadHolds = claimed === UNSIGNED ? req.method !== 'PUT' : createHash('sha256').update(body).digest('hex') === claimed;
        if (!payloadHolds || !signatureHolds(req, creds, claimed)) return answer(res, 403, {}, s3Error('SignatureDoesNotMatch'));
      } else if (opts.private) {
        return answer(res, 403, {}, s3Error('AccessDenied'));
      }
      const [, bucket = '', objectKey = ''] = /^\/([^/]+)\/?(.*)$/.exec(key) ?? [];
      if (objectKey === '' && (req.method === 'GET' || req.method === 'HEAD')) {
        const listing = listBucket(objects, bucket, url.searchParams);
        return answer(res, 200, { 'Content-Type': 'application/xml' }, req.method === 'HEAD' ? undefined : listing);
      }
      const obj = objects.get(key);
      if (req.method === 'PUT') {
        if (obj && req.headers['if-none-match'] === '*') return answer(res, 412, {}, s3Error('PreconditionFailed'));
        // Conditional writes as AWS S3 has them since 2024: replace only the object that was read.
        // The ETag must come bare, as Ceph radosgw 16 wants it (it refuses the quoted form with
        // 412; AWS takes either): the stricter of the two, so a client that passes here passes both.
        const ifMatch = req.headers['if-match'];
        if (ifMatch !== undefined && (!obj || ifMatch !== obj.etag)) return answer(res, 412, {}, s3Error('PreconditionFailed'));
        const meta = Object.fromEntries(Object.entries(req.headers).filter(([h]) => h.startsWith('x-amz-meta-')).map(([h, v]) => [h, String(v)]));
        if (req.headers['content-type']) meta['Content-Type'] = String(req.headers['content-type']);
        if (req.headers['cache-control']) meta['Cache-Control'] = String(req.headers['cache-control']);
        objects.set(key, stored(body, meta));
        return answer(res, 200);
      }
      if (!obj) return answer(res, 404, {}, s3Error('NoSuchKey'));
      // Header names as S3 spells them: httpfs2 matches them case-sensitively.
      const base = {
        'Accept-Ranges': 'bytes',
        'Last-Modified': obj.modified.toUTCString(),
        ETag: `"${obj.etag}"`,
        ...obj.meta,
      };
      // One range, a suffix (bytes=-N) too; past the end is 416, as AWS and radosgw answer.
      const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''));
      const size = obj.data.length;
      const suffix = range?.[1] === '' ? Number(range[2] ?? 0) : undefined;
      const start = range ? (suffix === undefined ? Number(range[1]) : Math.max(size - suffix, 0)) : 0;
      const end = range && suffix === undefined && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (range && (start >= size || end < start)) return answer(res, 416, { 'Content-Range': `bytes */${size}` }, s3Error('InvalidRange'));
      const part = obj.data.subarray(start, end + 1);
      const headers = range ? { ...base, 'Content-Length': part.length, 'Content-Range': `bytes ${start}-${end}/${size}` } : { ...base, 'Content-Length': part.length };
      if (req.method === 'HEAD') return answer(res, range ? 206 : 200, headers);
      served += part.length;
      return answer(res, range ? 206 : 200, headers, part);
    };
  };
  const server: Server = opts.tls ? createTlsServer({ cert: await readFile(opts.tls.cert), key: await readFile(opts.tls.key) }, handle) : createServer(handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    objects,
    requests,
    put: (key, data, meta = {}) => objects.set(key, stored(data, meta)),
    bytesServed: () => served,
    pause: () => (held ??= []),
    resume: () => {
      const waiting = held ?? [];
      held = undefined;
      for (const respond of waiting) respond();
    },
    stop: () =>
      new Promise((resolve) => {
        held = undefined;
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
