/**
 * Boot from an image over HTTPS: nginx on 127.0.0.1 (10.0.2.2 from the guest) with a certificate
 * from a throwaway CA that goes into the stick with --ca-cert; rclone mounts the image lazily from
 * the runtime root, and dm-verity checks it as for http://.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { Reporter } from '../../src/util/log.js';
import { BOOT_FAILURES } from '../helpers/demo.js';
import { makeNetRoot, NET_BOOTED, NET_INIT, type NetRoot } from '../helpers/net-root.js';
import { freePort, startNginx, type Nginx } from '../helpers/nginx.js';
import { makeTestCa } from '../helpers/tls.js';

let work: string;
let root: NetRoot;
let stick: BuildResult;
let server: Nginx | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-https-'));
  root = await makeNetRoot(join(work, 'root'));
  const tls = await makeTestCa(work);
  const port = await freePort();
  stick = await build(
    { root: root.dir, init: NET_INIT, lower: `https://10.0.2.2:${port}/images/`, caCert: tls.ca, out: join(work, 'stick.img'), boot: 'bios', menuTimeout: 0, timeout: 12, onfail: 'poweroff' },
    new Reporter(true),
  );
  const net = stick.network as NonNullable<BuildResult['network']>;
  await mkdir(join(work, 'www/images'), { recursive: true });
  await copyFile(net.path, join(work, 'www/images', basename(net.path)));
  server = await startNginx(join(work, 'www'), port, join(work, 'nginx'), tls);
}, 300_000);

afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('root image over HTTPS (rclone + loop + dm-verity + squashfs)', () => {
  it('boots to the root init with the CA from --ca-cert, fetching a fraction of the image, and reads a large file through dm-verity', async () => {
    const net = stick.network as NonNullable<BuildResult['network']>;
    const nginx = server as Nginx;
    let bytesAtBoot: Promise<number> | undefined;
    let msToInit = -1;
    const t0 = Date.now();
    const r = await bootImage({
      image: stick.image,
      network: true,
      expect: 'net-test: big-a',
      failOn: BOOT_FAILURES,
      timeoutSec: 150,
      graceMs: 500,
      onLine: (line) => {
        if (!line.includes(NET_BOOTED)) return;
        msToInit = Date.now() - t0;
        bytesAtBoot = nginx.bytesServed();
      },
    });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/flashroot: lower https:\/\/10\.0\.2\.2:\d+\/images\/root-\w+\.sqfs \(dm-verity V\)/);
    expect(text).toContain('net-test: fidelity chain=/srv/target links=3 suid=4755 owner=1000:1000:640');
    // The CA file sat there: the booted system sees an empty directory (rclone keeps its chroot).
    expect(text).toContain('net-test: runtime root hidden');
    expect(text).toContain(`net-test: big-a ${createHash('sha256').update(root.bigA).digest('hex')}`);
    const fetched = await (bytesAtBoot as Promise<number>);
    process.stdout.write(
      `https boot: root init after ${(msToInit / 1000).toFixed(1)} s (from starting QEMU); fetched ${fetched} of ${net.bytes} bytes at boot; initramfs ${stick.initramfs.bytes} bytes zstd\n`,
    );
    expect(fetched).toBeGreaterThan(0);
    expect(fetched).toBeLessThan(net.bytes / 3);
  }, 200_000);
});
