/**
 * nginx (Debian) on 127.0.0.1 serving a directory with range requests (and an HTML index, which
 * rclone's http remote lists), over HTTP or HTTPS, as a test web server the QEMU guest reaches at
 * 10.0.2.2. Its access log says how many bytes each boot fetched. One process (no master), so
 * the PID started here is the one that serves, stops and stalls.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { start, type StartedProcess } from '../../src/util/run.js';

export interface Nginx {
  port: number;
  /** Body bytes served so far (sum over the access log). */
  bytesServed(): Promise<number>;
  /** The access log so far, one line a request: `METHOD URI STATUS BYTES "RANGE"`. */
  requests(): Promise<string[]>;
  /**
   * Stops answering without refusing (SIGSTOP): the kernel still accepts connections into the
   * listen backlog and takes requests, but no reply ever comes, as from a hung server.
   */
  pause(): void;
  /** Answers again (SIGCONT), including what was asked meanwhile. */
  resume(): void;
  stop(): Promise<void>;
}

/** A port that was free a moment ago (the build bakes it into the stick before nginx starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** A server certificate and its key (PEM files), to serve HTTPS. */
export interface TlsFiles {
  cert: string;
  key: string;
}

export async function startNginx(webRoot: string, port: number, workDir: string, tls?: TlsFiles): Promise<Nginx> {
  await mkdir(join(workDir, 'tmp'), { recursive: true });
  const log = join(workDir, 'access.log');
  await writeFile(log, '');
  const conf = join(workDir, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
master_process off;
pid ${join(workDir, 'nginx.pid')};
error_log ${join(workDir, 'error.log')};
events { worker_connections 64; }
http {
  log_format bytes '$request_method $uri $status $body_bytes_sent "$http_range"';
  access_log ${log} bytes;
  client_body_temp_path ${join(workDir, 'tmp')};
  proxy_temp_path ${join(workDir, 'tmp')};
  fastcgi_temp_path ${join(workDir, 'tmp')};
  uwsgi_temp_path ${join(workDir, 'tmp')};
  scgi_temp_path ${join(workDir, 'tmp')};
  server {
    listen 127.0.0.1:${port}${tls ? ` ssl;\n    ssl_certificate ${tls.cert};\n    ssl_certificate_key ${tls.key}` : ''};
    root ${webRoot};
    autoindex on;
    # nginx omits it on 206 replies, and httpfs2 refuses a range reply without it. Images are
    # immutable under their names (any cache may keep them); a channel manifest must be fresh.
    location ~ \\.sqfs$ { add_header Accept-Ranges bytes; add_header Cache-Control "public, max-age=31536000, immutable"; }
    location ~ \\.channel$ { add_header Cache-Control "no-cache"; }
  }
}
`,
  );
  const proc: StartedProcess = start('nginx', ['-p', workDir, '-e', join(workDir, 'error.log'), '-c', conf]);
  await waitForPort(port, proc);
  const requests = async (): Promise<string[]> => (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  return {
    port,
    requests,
    bytesServed: async () => (await requests()).reduce((sum, line) => sum + Number(line.split(' ')[3] ?? 0), 0),
    pause: () => proc.kill('SIGSTOP'),
    resume: () => proc.kill('SIGCONT'),
    stop: async () => {
      // A stopped process keeps SIGTERM pending until it runs again.
      proc.kill('SIGCONT');
      proc.kill('SIGTERM');
      await proc.exited.catch(() => undefined);
    },
  };
}

async function waitForPort(port: number, proc: StartedProcess): Promise<void> {
  let exited = false;
  void proc.exited.finally(() => (exited = true)).catch(() => undefined);
  for (let i = 0; i < 100 && !exited; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1', () => (sock.end(), resolve(true)));
      sock.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nginx did not start on 127.0.0.1:${port}`);
}
