/**
 * A small S3-compatible server on 127.0.0.1 for tests, path-style (/bucket/key): signed PUT with
 * If-None-Match, HEAD and ranged GET. Unlike s3rver it checks SigV4 signatures and the payload hash
 * (reads are anonymous, as from a public-read bucket, unless signed: then the signature must hold).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { signV4, type S3Credentials } from '../../src/network/s3.js';

interface StoredObject {
  data: Buffer;
  meta: Record<string, string>;
}

export interface TestS3 {
  endpoint: string;
  objects: Map<string, StoredObject>;
  stop(): Promise<void>;
}

function signatureHolds(req: IncomingMessage, creds: S3Credentials, payloadSha256: string): boolean {
  const auth = req.headers.authorization ?? '';
  const signed = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  const headers = Object.fromEntries(signed.map((h) => [h, String(req.headers[h] ?? '')]));
  return auth === signV4(req.method ?? '', new URL(req.url ?? '/', 'http://x'), headers, payloadSha256, creds);
}

function answer(res: ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: Buffer): void {
  res.writeHead(status, headers);
  res.end(body);
}

export async function startTestS3(port: number, creds: S3Credentials): Promise<TestS3> {
  const objects = new Map<string, StoredObject>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const key = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const claimed = String(req.headers['x-amz-content-sha256'] ?? '');
      if (req.headers.authorization !== undefined || req.method === 'PUT') {
        if (createHash('sha256').update(body).digest('hex') !== claimed || !signatureHolds(req, creds, claimed)) {
          return answer(res, 403, {}, Buffer.from('<Error><Code>SignatureDoesNotMatch</Code></Error>'));
        }
      }
      const obj = objects.get(key);
      if (req.method === 'PUT') {
        if (obj && req.headers['if-none-match'] === '*') return answer(res, 412, {}, Buffer.from('<Error><Code>PreconditionFailed</Code></Error>'));
        const meta = Object.fromEntries(Object.entries(req.headers).filter(([h]) => h.startsWith('x-amz-meta-')).map(([h, v]) => [h, String(v)]));
        objects.set(key, { data: body, meta });
        return answer(res, 200);
      }
      if (!obj) return answer(res, 404, {}, Buffer.from('<Error><Code>NoSuchKey</Code></Error>'));
      // Header names as S3 spells them: httpfs2 matches them case-sensitively.
      const base = { 'Accept-Ranges': 'bytes', ...obj.meta };
      const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
      if (!range) return answer(res, 200, { ...base, 'Content-Length': obj.data.length }, req.method === 'HEAD' ? undefined : obj.data);
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : obj.data.length - 1, obj.data.length - 1);
      const part = obj.data.subarray(start, end + 1);
      return answer(res, 206, { ...base, 'Content-Length': part.length, 'Content-Range': `bytes ${start}-${end}/${obj.data.length}` }, req.method === 'HEAD' ? undefined : part);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    objects,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
