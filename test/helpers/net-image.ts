/**
 * The image lowers, http:// (httpfs2, or rclone), https:// (nbdkit) and signed s3:// (nbdkit with
 * flashroot's S3 reader), share everything after the client:
 * the size check, loop, dm-verity, squashfs. `describeImageLower` builds one stick per transport
 * and runs the same scenarios on either, with the same assertions where the clients behave alike:
 * a good boot with the server stopped (connections refused) and then stalled (connections
 * accepted, never answered) under the running root, the server down at boot, an image with
 * changed blocks, a truncated image. TRANSPORTS says where the clients differ; a test file adds
 * what only its transport has.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import type { BuildOptionsInput } from '../../src/pipeline/options.js';
import { bootImage, type BootResult } from '../../src/qemu/boot.js';
import { Reporter } from '../../src/util/log.js';
import { BOOT_FAILURES } from './demo.js';
import { BIG_FILE_BYTES, makeNetRoot, NET_BOOTED, NET_DONE, NET_INIT, NET_RESTART_SERVER, NET_RESUME_SERVER, NET_S3_KEY, NET_STALL_SERVER, NET_STOP_SERVER, s3KeyEnv, type NetRoot } from './net-root.js';
import { freePort, startNginx, type Nginx } from './nginx.js';
import { startTestS3, type TestS3 } from './s3-server.js';
import { makeTestCa, type TestCa } from './tls.js';

/** http (httpfs2), https (nbdkit), http read by rclone (--http-client rclone), a private S3 bucket read signed. */
export type ImageTransport = 'http' | 'https' | 'http-rclone' | 's3';

/** What the two clients do differently, as far as the console shows it. */
interface TransportTraits {
  title: string;
  /** How the stick names the image: a web URL, or an object in a private bucket behind an https:// endpoint (the test S3 server). */
  scheme: 'http' | 'https' | 's3';
  /** What the stick is built with for this client. */
  build?: Partial<BuildOptionsInput>;
  /**
   * Whether the faults at boot (server down, changed blocks, truncated image) run: they are the
   * client's own (down) or after the mount (the rest), so one run per client suffices.
   */
  bootFaults: boolean;
  /** The last error the init reports when the server refuses connections at boot. */
  downError: RegExp;
  /** The client's console line for a read while the server refuses connections. */
  refusedLine: RegExp;
  /** A read under a stalled server: fails with EIO in bounded time, or waits until the server answers. */
  stall: 'fails' | 'blocks';
  /** The client's console line for a request the stalled server never answers. */
  stalledLine: RegExp;
  /** How long the booted root waits for a read under the stalled server before calling it blocked. */
  stallWaitSec: number;
  /** Every request the boot makes, up to the root's init, is `GET <the image's path>` (no listing, no HEAD). */
  onlyGets?: boolean;
}

export const TRANSPORTS: Record<ImageTransport, TransportTraits> = {
  http: {
    title: 'root image over HTTP (httpfs2 + loop + dm-verity + squashfs under the tmpfs overlay)',
    scheme: 'http',
    bootFaults: true,
    downError: /Connection failed\./,
    refusedLine: /httpfs2: couldn't connect socket: 111 Connection refused/,
    // httpfs2 0.1.4 resends a request that got no reply (-t 10 s) for ever: it has no flag to give up.
    stall: 'blocks',
    stallWaitSec: 30,
    stalledLine: /httpfs2: exchange: did not receive a reply, retrying/,
  },
  https: {
    title: "root image over HTTPS (nbdkit's curl plugin + kernel NBD + loop + dm-verity + squashfs)",
    scheme: 'https',
    bootFaults: true,
    // nbd-client cannot say why nbdkit refused it; curl, asking the same, does.
    downError: /curl: \(7\) Failed to connect to 10\.0\.2\.2 port \d+ after \d+ ms: Couldn't connect to server/,
    refusedLine: /nbdkit: curl\S*: error: pread: curl_easy_perform: Couldn't connect to server/,
    // nbdkit gives up on a request after timeout=10 s; the kernel asks again page by page, loop
    // and squashfs retry: one read in the root costs about six such requests, measured 61 s.
    stall: 'fails',
    stallWaitSec: 150,
    stalledLine: /nbdkit: curl\S*: error: pread: curl_easy_perform: Timeout was reached/,
  },
  'http-rclone': {
    title: 'root image over HTTP read by rclone (--http-client rclone)',
    scheme: 'http',
    build: { httpClient: 'rclone' },
    bootFaults: false,
    downError: /connect: connection refused/,
    refusedLine: /ERROR : .*connect: connection refused/,
    // As for https, without TLS handshakes: every request waits 10 s for reply headers.
    stall: 'fails',
    stallWaitSec: 300,
    stalledLine: /ERROR : .*timeout awaiting response headers/,
  },
  s3: {
    title: "root image in a private S3 bucket over HTTPS (nbdkit running flashroot's S3 reader, every read signed + kernel NBD + loop + dm-verity + squashfs)",
    scheme: 's3',
    // The faults at boot after the client are https's (same NBD path); the refused key is network-s3's.
    bootFaults: false,
    downError: /curl: \(7\) Failed to connect to 10\.0\.2\.2 port \d+ after \d+ ms: Couldn't connect to server/,
    refusedLine: /nbdkit: perl\S*: error: GET https:\/\/10\.0\.2\.2:\d+\/images\/root-\w+\.sqfs: Couldn't connect to server/,
    // The reader gives up on a request after 10 s, as the curl plugin: the same retries above it.
    stall: 'fails',
    stallWaitSec: 150,
    stalledLine: /nbdkit: perl\S*: error: GET https:\/\/10\.0\.2\.2:\d+\/images\/root-\w+\.sqfs: Timeout was reached/,
    onlyGets: true,
  },
};

/** The build options naming the image's place, on a server at 10.0.2.2:port, under /images/ (for S3: bucket `images`). */
function lowerOptions(scheme: TransportTraits['scheme'], port: number): Partial<BuildOptionsInput> {
  if (scheme === 's3') return { lower: 's3://images/', endpoint: `https://10.0.2.2:${port}`, signedReads: true };
  return { lower: `${scheme}://10.0.2.2:${port}/images/` };
}

/** The server an image lower reads: nginx, or the test S3 server. */
type ImageServer = Nginx | TestS3;

/** The init's flashroot.timeout for these sticks: how long the server may be down at boot. */
const TIMEOUT = 12;

export interface ImageLowerOptions {
  /** Build options on top of the stick's (e.g. reproducible, to build a variant with the same image). */
  build?: Partial<BuildOptionsInput>;
  /** Boot the good scenario under UEFI (OVMF) instead of BIOS; the stick is then built hybrid. */
  goodBootUefi?: boolean;
}

/** One stick with an image lower and the web server its image is on. */
export class ImageLower {
  readonly traits: TransportTraits;
  work = '';
  port = 0;
  root!: NetRoot;
  stick!: BuildResult;
  net!: NonNullable<BuildResult['network']>;
  tls: TestCa | undefined;
  /** What the stick was built with, to build another stick of the same image. */
  buildOptions!: BuildOptionsInput;
  server: ImageServer | undefined;

  constructor(
    readonly transport: ImageTransport,
    readonly options: ImageLowerOptions,
  ) {
    this.traits = TRANSPORTS[transport];
  }

  async setup(): Promise<void> {
    this.work = await mkdtemp(join(tmpdir(), `flashroot-${this.transport}-`));
    this.root = await makeNetRoot(join(this.work, 'root'), { faults: ['stop', 'stall'], readWaitSec: this.traits.stallWaitSec });
    this.tls = this.traits.scheme === 'http' ? undefined : await makeTestCa(this.work);
    this.port = await freePort();
    this.buildOptions = {
      root: this.root.dir,
      init: NET_INIT,
      ...lowerOptions(this.traits.scheme, this.port),
      caCert: this.tls?.ca,
      boot: this.options.goodBootUefi ? 'hybrid' : 'bios',
      menuTimeout: 0,
      timeout: TIMEOUT,
      onfail: 'poweroff',
      ...this.traits.build,
      ...this.options.build,
    };
    // The S3 key as a user gives it: in the environment, never on the command line.
    const env = this.traits.scheme === 's3' ? s3KeyEnv(NET_S3_KEY) : process.env;
    this.stick = await build({ ...this.buildOptions, out: join(this.work, 'stick.img') }, new Reporter(true), env);
    this.net = this.stick.network as NonNullable<BuildResult['network']>;
  }

  async cleanup(): Promise<void> {
    await this.stopServer();
    if (this.work) await rm(this.work, { recursive: true, force: true });
  }

  /** The image's path on the server (for S3: /bucket/key). */
  get imagePath(): string {
    return `/images/${basename(this.net.path)}`;
  }

  /** Serves the image (as `prepare` leaves it) from its own web root under /images/, or as object `imagePath` of the S3 server. */
  async serve(name: string, prepare?: (file: string) => Promise<void>): Promise<ImageServer> {
    const dir = join(this.work, name, 'images');
    await mkdir(dir, { recursive: true });
    const file = join(dir, basename(this.net.path));
    await copyFile(this.net.path, file);
    await prepare?.(file);
    if (this.traits.scheme === 's3') {
      const s3 = await startTestS3(this.port, NET_S3_KEY, { private: true, tls: this.tls });
      // Stored as any writer of the bucket would: publish names an object by its content, a changed image included.
      s3.put(this.imagePath, await readFile(file));
      this.server = s3;
    } else {
      this.server = await startNginx(join(this.work, name), this.port, join(this.work, `${name}-nginx`), this.tls);
    }
    return this.server;
  }

  async stopServer(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  boot(expectText: string, o: { failOn?: readonly string[]; onLine?: (line: string) => void; image?: string; uefi?: boolean; timeoutSec?: number; nicModel?: string } = {}): Promise<BootResult> {
    return bootImage({
      image: o.image ?? this.stick.image,
      uefi: o.uefi,
      network: true,
      nicModel: o.nicModel,
      expect: expectText,
      failOn: o.failOn ?? BOOT_FAILURES,
      timeoutSec: o.timeoutSec ?? 150,
      onLine: o.onLine,
      graceMs: 500,
    });
  }
}

/** A timed read the booted root reported: `ok`, `failed (<error>)` or `blocked`, and its seconds. */
function timedRead(text: string, what: string): { result: string; sec: number } | undefined {
  const m = new RegExp(`net-test: ${what} (ok|failed \\(.*\\)|blocked) (?:after|for) (\\d+) s`).exec(text);
  return m ? { result: m[1] ?? '', sec: Number(m[2]) } : undefined;
}

const EIO = /^failed \(.*Input\/output error\)$/;

export function describeImageLower(transport: ImageTransport, options: ImageLowerOptions, more: (s: ImageLower) => void = () => undefined): void {
  const s = new ImageLower(transport, options);
  const t = s.traits;
  describe(t.title, () => {
    beforeAll(() => s.setup(), 300_000);
    afterAll(() => s.cleanup());

    it('builds a stick without the root on it and a content-addressed image beside it', () => {
      expect(s.net.url).toBe(`${t.scheme === 's3' ? 's3:/' : `${t.scheme}://10.0.2.2:${s.port}`}/images/root-${s.net.sha256}.sqfs`);
      expect(basename(s.net.path)).toBe(`root-${s.net.sha256}.sqfs`);
      expect(s.net.bytes).toBeGreaterThan(3 * BIG_FILE_BYTES);
      process.stdout.write(`${transport}: network image ${s.net.bytes} bytes; initramfs ${s.stick.initramfs.bytes} bytes zstd\n`);
    });

    const firmware = options.goodBootUefi ? 'UEFI' : 'BIOS';
    const stalled = t.stall === 'fails' ? 'fail with EIO in bounded time' : 'wait for it';
    it(`boots (${firmware}) to the root init with exact POSIX metadata, fetching a fraction of the image; reads fail with EIO once the server stops, ${stalled} while it stalls, and work again once it is back`, async () => {
      const server = await s.serve('good');
      let bytesAtBoot = -1;
      let bootRequests: string[] = [];
      let after = -1;
      let msToInit = -1;
      const t0 = Date.now();
      let events: Promise<unknown> = Promise.resolve();
      // The host's side of each fault, in the order the root asks for them.
      const on = (line: string, what: string, act: () => unknown) => {
        if (line.includes(what)) events = events.then(act);
      };
      const r = await s.boot(NET_DONE, {
        uefi: options.goodBootUefi,
        timeoutSec: 200 + t.stallWaitSec,
        onLine: (line) => {
          if (line.includes(NET_BOOTED)) msToInit = Date.now() - t0;
          on(line, NET_BOOTED, async () => {
            bytesAtBoot = await server.bytesServed();
            if ('objects' in server) bootRequests = [...server.requests];
          });
          on(line, NET_STOP_SERVER, async () => ((after = await server.bytesServed()), await s.stopServer()));
          on(line, NET_RESTART_SERVER, () => s.serve('good'));
          on(line, NET_STALL_SERVER, () => s.server?.pause());
          on(line, NET_RESUME_SERVER, () => s.server?.resume());
        },
      });
      await events;
      const text = r.console.join('\n');
      expect(r.failedOn, text).toBeUndefined();
      expect(r.matched, text).toBe(true);
      expect(text).toContain('net-test: lower /dev/mapper/flashroot-lower squashfs');
      expect(text).toContain('net-test: fidelity chain=/srv/target links=3 suid=4755 owner=1000:1000:640');
      expect(text).toContain(`flashroot: lower ${s.net.url} (dm-verity, root hash ${s.net.rootHash})`);
      // The client runs from the initramfs: the boot never waits for the stick's USB drivers.
      expect(text).toMatch(/flashroot: network layer \/lib\/flashroot\/net-layer\.sqfs \(\d+ MiB\)/);
      expect(text).not.toContain('flashroot: medium');
      // A common NIC's driver is in the initramfs: the stick's drivers image is never read.
      expect(text).toContain('net-test: nic driver virtio_net; stick mounts 0');
      expect(text).not.toContain('loading it from the stick');
      // The CA file (https) sat there: the booted system sees an empty directory (the client keeps its chroot).
      expect(text).toContain('net-test: runtime root hidden');
      expect(text).toContain(`net-test: big-a ${createHash('sha256').update(s.root.bigA).digest('hex')}`);
      expect(bytesAtBoot).toBeGreaterThan(0);
      expect(bytesAtBoot).toBeLessThan(s.net.bytes / 3);
      expect(after - bytesAtBoot).toBeGreaterThanOrEqual(BIG_FILE_BYTES * 0.9);
      if (t.onlyGets) {
        expect(bootRequests[0]).toBe(`GET ${s.imagePath}`);
        expect(bootRequests.every((q) => q === `GET ${s.imagePath}`)).toBe(true);
      }
      // The key baked into a signed stick: the test init looks for its secret on every process's command line.
      if (t.scheme === 's3') expect(text).toContain('net-test: command lines naming the secret: 0');

      const stop = timedRead(text, 'read after server stop');
      const stall = timedRead(text, 'read while server stalled');
      const released = timedRead(text, 'blocked read after server resume');
      process.stdout.write(
        `${transport} boot (${firmware}): root init after ${(msToInit / 1000).toFixed(1)} s from starting QEMU; ` +
          `fetched ${bytesAtBoot} of ${s.net.bytes} bytes at boot, ${after} after reading a ${BIG_FILE_BYTES}-byte file; ` +
          `server stopped: ${stop?.result} after ${stop?.sec} s; stalled: ${stall?.result} after ${stall?.sec} s` +
          `${released ? `, released ${released.sec} s after resuming` : ''}\n`,
      );
      // Stopped: every request is refused at once, so the read fails within a second or two.
      expect(stop?.result, text).toMatch(EIO);
      expect(stop?.sec).toBeLessThanOrEqual(30);
      expect(text).toMatch(t.refusedLine);
      expect(timedRead(text, 'read after server restart')?.result, text).toBe('ok');
      // Stalled: each request waits for the client's timeout.
      expect(text).toMatch(t.stalledLine);
      if (t.stall === 'fails') {
        expect(stall?.result, text).toMatch(EIO);
        expect(stall?.sec).toBeLessThan(t.stallWaitSec);
      } else {
        expect(stall?.result, text).toBe('blocked');
        // Not one slow request: the client gave up on a reply and asked again, more than once.
        expect(text.match(new RegExp(t.stalledLine.source, 'g'))?.length ?? 0).toBeGreaterThanOrEqual(2);
        expect(released?.result, text).toBe('ok');
      }
      expect(timedRead(text, 'read after server resume')?.result, text).toBe('ok');
    }, 400_000 + t.stallWaitSec * 1000);

    if (t.bootFaults) describeBootFaults(s);

    more(s);
  });
}

/** Faults the init meets before the root is mounted: server down, changed blocks, truncated image. */
function describeBootFaults(s: ImageLower): void {
  const t = s.traits;
  it('fails with the URL and the last error after retrying when the server is down', async () => {
      await s.stopServer();
      const r = await s.boot('flashroot: FAIL', { failOn: ['Kernel panic'] });
      const text = r.console.join('\n');
      expect(r.matched, text).toBe(true);
      const url = s.net.url.replaceAll('.', '\\.');
      expect(text).toMatch(new RegExp(`flashroot: cannot reach ${url} \\(try 1: .*${t.downError.source}.*\\); retrying in 1s, giving up in \\d+s`));
      expect(text).toMatch(new RegExp(`flashroot: FAIL lower: cannot reach ${url} after ${TIMEOUT}s: .*${t.downError.source}.* — check the server`));
    }, 200_000);

    it('refuses an image whose blocks do not match the baked root hash', async () => {
      await s.serve('corrupt', async (file) => {
        // A byte in the squashfs superblock's 4 KiB block, which every mount reads.
        const fh = await open(file, 'r+');
        await fh.write(Buffer.from([0x5a]), 0, 1, 200);
        await fh.close();
      });
      const r = await s.boot('flashroot: FAIL', { failOn: ['Kernel panic'] });
      await s.stopServer();
      const text = r.console.join('\n');
      expect(r.matched, text).toBe(true);
      expect(text).toContain(`flashroot: FAIL lower: ${s.net.url} does not match the root hash baked into this stick (dm-verity found a changed block)`);
    }, 200_000);

    it('refuses a truncated image before mounting it', async () => {
      await s.serve('truncated', (file) => truncate(file, s.net.bytes - 4096 * 16));
      const r = await s.boot('flashroot: FAIL', { failOn: ['Kernel panic'] });
      await s.stopServer();
      const text = r.console.join('\n');
      expect(r.matched, text).toBe(true);
      expect(text).toContain(`flashroot: FAIL lower: ${s.net.url} is ${s.net.bytes - 4096 * 16} bytes, this stick expects ${s.net.bytes}`);
    }, 200_000);
}
