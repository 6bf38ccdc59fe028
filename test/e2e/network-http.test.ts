/**
 * Boot from the network: the stick carries kernel + initramfs, the root is a dm-verity squashfs
 * image served by nginx on 127.0.0.1 (10.0.2.2 from the guest) and read lazily with range requests.
 * One stick, four boots: the good one (fidelity, bytes fetched, a later read, the server stopped
 * under a running system), then the server down, a corrupted image and a truncated one; and a
 * second stick of the same (reproducible) image with flashroot.toram, which outlives its server.
 */
import { copyFile, mkdir, mkdtemp, open, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { Reporter } from '../../src/util/log.js';
import { BOOT_FAILURES } from '../helpers/demo.js';
import { BIG_FILE_BYTES, makeNetRoot, NET_BOOTED, NET_DONE, NET_INIT, NET_RESTART_SERVER, NET_STOP_SERVER } from '../helpers/net-root.js';
import { freePort, startNginx, type Nginx } from '../helpers/nginx.js';

const TIMEOUT = 12;
let work: string;
let port: number;
let stick: BuildResult;
let toramStick: BuildResult;
let net: NonNullable<BuildResult['network']>;
let server: Nginx | undefined;

async function serve(name: string, prepare?: (file: string) => Promise<void>): Promise<Nginx> {
  const root = join(work, name);
  await mkdir(root, { recursive: true });
  const file = join(root, basename(net.path));
  await copyFile(net.path, file);
  await prepare?.(file);
  server = await startNginx(root, port, join(work, `${name}-nginx`));
  return server;
}

async function stopServer(): Promise<void> {
  await server?.stop();
  server = undefined;
}

const boot = (expect: string, failOn: readonly string[] = BOOT_FAILURES, onLine?: (l: string) => void, image = stick.image) =>
  bootImage({ image, network: true, expect, failOn, timeoutSec: 150, onLine, graceMs: 500 });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-net-'));
  const root = join(work, 'root');
  await makeNetRoot(root);
  port = await freePort();
  const common = { root, init: NET_INIT, lower: `http://10.0.2.2:${port}/`, boot: 'bios', menuTimeout: 0, timeout: TIMEOUT, onfail: 'poweroff', reproducible: true } as const;
  stick = await build({ ...common, out: join(work, 'stick.img') }, new Reporter(true));
  toramStick = await build({ ...common, out: join(work, 'toram', 'stick.img'), toram: '1' }, new Reporter(true));
  net = stick.network as NonNullable<BuildResult['network']>;
}, 300_000);

afterAll(async () => {
  await stopServer();
  await rm(work, { recursive: true, force: true });
});

describe('root image over HTTP (httpfs2 + loop + dm-verity + squashfs under the tmpfs overlay)', () => {
  it('builds a stick without the root on it and a content-addressed image beside it', () => {
    expect(net.url).toBe(`http://10.0.2.2:${port}/root-${net.sha256}.sqfs`);
    expect(basename(net.path)).toBe(`root-${net.sha256}.sqfs`);
    expect(net.bytes).toBeGreaterThan(2 * BIG_FILE_BYTES);
    expect(toramStick.network?.url).toBe(net.url);
    process.stdout.write(`network image ${net.bytes} bytes; initramfs ${stick.initramfs.bytes} bytes zstd\n`);
  });

  it('boots to the root init with exact POSIX metadata, fetching a fraction of the image, more on later reads, EIO in bounded time once the server stops, and reads again once it is back', async () => {
    const nginx = await serve('good');
    let bytesAtBoot = -1;
    let after = -1;
    let events: Promise<unknown> = Promise.resolve();
    const r = await boot(NET_DONE, BOOT_FAILURES, (line) => {
      if (line.includes(NET_BOOTED)) events = events.then(async () => (bytesAtBoot = await nginx.bytesServed()));
      if (line.includes(NET_STOP_SERVER)) events = events.then(async () => ((after = await nginx.bytesServed()), await stopServer()));
      if (line.includes(NET_RESTART_SERVER)) events = events.then(() => serve('good'));
    });
    await events;
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/net-test: lower \/dev\/mapper\/flashroot-lower squashfs/);
    expect(text).toContain('net-test: fidelity chain=/srv/target links=3 suid=4755 owner=1000:1000:640');
    expect(text).toMatch(/flashroot: lower http:\/\/\S+ \(dm-verity V\)/);
    const bootLine = r.console.find((l) => l.includes('net-test: big-a'));
    expect(bootLine).toBeDefined();
    process.stdout.write(`http boot: root init after ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s; fetched ${bytesAtBoot} of ${net.bytes} bytes at boot, ${after} after reading a ${BIG_FILE_BYTES}-byte file\n`);
    expect(bytesAtBoot).toBeGreaterThan(0);
    expect(bytesAtBoot).toBeLessThan(net.bytes / 3);
    expect(after - bytesAtBoot).toBeGreaterThanOrEqual(BIG_FILE_BYTES * 0.9);
    const stopped = /net-test: read after server stop (.*) after (\d+) s/.exec(text);
    process.stdout.write(`http boot: ${stopped?.[0] ?? 'no read-after-stop line'}\n`);
    expect(stopped?.[1], text).toMatch(/^failed/);
    expect(Number(stopped?.[2])).toBeLessThanOrEqual(30);
    expect(text).toContain('net-test: read after server restart ok');
  }, 200_000);

  it('fails with the URL and the last error after retrying when the server is down', async () => {
    await stopServer();
    const r = await boot('flashroot: FAIL', ['Kernel panic']);
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/cannot reach http:\/\/10\.0\.2\.2:\d+\/root-\w+\.sqfs \(try 2: .+\); retrying in 2s/);
    expect(text).toMatch(new RegExp(`FAIL lower: cannot reach ${net.url.replaceAll('.', '\\.')} after ${TIMEOUT}s: .+ — check the server`));
  }, 200_000);

  it('refuses an image whose blocks do not match the baked root hash', async () => {
    await serve('corrupt', async (file) => {
      // A byte in the squashfs superblock's 4 KiB block, which every mount reads.
      const fh = await open(file, 'r+');
      await fh.write(Buffer.from([0x5a]), 0, 1, 200);
      await fh.close();
    });
    const r = await boot('flashroot: FAIL', ['Kernel panic']);
    await stopServer();
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toContain('does not match the root hash baked into this stick (dm-verity found a changed block)');
  }, 200_000);

  it('refuses a truncated image before mounting it', async () => {
    await serve('truncated', (file) => truncate(file, net.bytes - 4096 * 16));
    const r = await boot('flashroot: FAIL', ['Kernel panic']);
    await stopServer();
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toContain(`is ${net.bytes - 4096 * 16} bytes, this stick expects ${net.bytes}`);
  }, 200_000);

  it('with flashroot.toram downloads the whole image to RAM first and keeps running without the server', async () => {
    const nginx = await serve('toram');
    const r = await boot(NET_DONE, BOOT_FAILURES, (line) => void (line.includes(NET_STOP_SERVER) && stopServer()), toramStick.image);
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toContain('flashroot: toram: the root runs from RAM; the server is no longer needed');
    expect(text).toMatch(/net-test: read after server stop ok/);
    expect(await nginx.bytesServed()).toBeGreaterThanOrEqual(net.bytes);
  }, 200_000);
});
