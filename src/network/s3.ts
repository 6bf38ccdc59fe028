/**
 * Just enough S3 for publishing an image: HEAD and a conditional PUT of one object, path-style,
 * signed with AWS Signature Version 4 (node:crypto; no SDK for two requests). Credentials come
 * from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never from the command line (shell history).
 */
import { createHash, createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { FlashrootError, UsageError } from '../errors.js';

export interface S3Location {
  bucket: string;
  /** Key prefix, '' or ending in '/'. */
  prefix: string;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** Where and as whom requests go. */
export interface S3Access {
  endpoint: string;
  creds: S3Credentials;
  /** CA certificates (PEM) to trust for an https:// endpoint, instead of Node's own. */
  ca?: Buffer;
}

/** s3://BUCKET/PREFIX/ holds images under their content-addressed names; s3fs://BUCKET/PREFIX/ holds a tree. */
export function parseS3Url(url: string, scheme: 's3' | 's3fs' = 's3'): S3Location {
  const m = new RegExp(`^${scheme}://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/((?:[\\w.-]+/)*)$`).exec(url);
  if (!m) {
    const what = scheme === 's3' ? 'the image is stored under its content-addressed name inside that prefix' : 'the root tree is stored under that prefix, one object per file';
    throw new UsageError(`'${url}' is not like ${scheme}://BUCKET/PREFIX/ (ending in /)`, what);
  }
  return { bucket: m[1] ?? '', prefix: m[2] ?? '' };
}

export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): S3Credentials {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  if (!accessKeyId || !secretAccessKey) {
    throw new UsageError('no S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set', 'export them (not on the command line, where shell history keeps them)');
  }
  return { accessKeyId, secretAccessKey, region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1' };
}

/** Path-style object URL: endpoint/bucket/key (works with any S3-compatible server). */
export function objectUrl(endpoint: string, bucket: string, key: string): URL {
  return new URL(`${endpoint.replace(/\/+$/, '')}/${bucket}/${key.split('/').map(encodeRfc3986).join('/')}`);
}

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/**
 * SigV4's canonical query string: every parameter RFC 3986-encoded, sorted by name then value. The
 * raw query is split by hand: URLSearchParams would read '+' as a space, which S3 clients never mean.
 */
export function canonicalQuery(url: URL): string {
  return url.search
    .slice(1)
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const [k, v] = eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)];
      return [encodeRfc3986(decodeURIComponent(k)), encodeRfc3986(decodeURIComponent(v))] as const;
    })
    .sort(([ka, va], [kb, vb]) => (ka === kb ? (va < vb ? -1 : 1) : ka < kb ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/**
 * The Authorization header of a request. `headers` must hold every header to sign (host,
 * x-amz-date, x-amz-content-sha256 included), names in lower case.
 */
export function signV4(method: string, url: URL, headers: Record<string, string>, payloadSha256: string, creds: S3Credentials): string {
  const amzDate = headers['x-amz-date'] ?? '';
  const scope = `${amzDate.slice(0, 8)}/${creds.region}/s3/aws4_request`;
  const names = Object.keys(headers).sort();
  const canonical = [method, url.pathname, canonicalQuery(url), ...names.map((n) => `${n}:${(headers[n] ?? '').trim()}`), '', names.join(';'), payloadSha256].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = hmac(`AWS4${creds.secretAccessKey}`, amzDate.slice(0, 8));
  for (const part of [creds.region, 's3', 'aws4_request']) key = hmac(key, part);
  return `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${hmac(key, toSign).toString('hex')}`;
}

export interface S3Response {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One signed request; the body is `file` (streamed, its sha256 given: it is signed) or `data`. */
export async function s3Request(
  method: 'GET' | 'HEAD' | 'PUT',
  url: URL,
  { creds, ca }: Pick<S3Access, 'creds' | 'ca'>,
  opts: { file?: string; data?: Buffer; bytes?: number; sha256?: string; extra?: Record<string, string>; now?: Date } = {},
): Promise<S3Response> {
  const payload = opts.sha256 ?? createHash('sha256').update(opts.data ?? '').digest('hex');
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-date': (opts.now ?? new Date()).toISOString().replace(/[-:]|\.\d{3}/g, ''),
    'x-amz-content-sha256': payload,
    ...opts.extra,
  };
  const bytes = opts.bytes ?? opts.data?.length;
  if (bytes !== undefined) headers['content-length'] = String(bytes);
  headers.authorization = signV4(method, url, headers, payload, creds);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers, timeout: 60_000, ...(ca ? { ca } : {}) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      const untrusted = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(e.code ?? '');
      const hint = untrusted ? "the endpoint's certificate is not from a CA this machine trusts: give that CA with --ca-cert FILE" : 'check --endpoint and that the server is up';
      reject(new FlashrootError('ES3', `${method} ${url.href} failed: ${e.message}`, { hint, cause: e }));
    });
    if (opts.file) createReadStream(opts.file).pipe(req);
    else req.end(opts.data);
  });
}
