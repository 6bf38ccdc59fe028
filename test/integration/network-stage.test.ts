/**
 * What the initramfs of an S3 lower carries: the endpoint, and the key only for a private bucket
 * (as curl's config, which the S3 reader reads too), readable by root alone (the booted system's
 * users never see the runtime root; the key is never on a command line).
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageNetworkLower } from '../../src/network/initramfs.js';
import { buildNetworkLayer, type NetLayer } from '../../src/network/net-layer.js';
import type { VerityInfo } from '../../src/network/verity.js';
import { CHANNEL_FLOOR_PATH } from '../../src/stick/paths.js';
import { sha256File } from '../../src/util/hash.js';
import { run } from '../../src/util/run.js';

const VERITY: VerityInfo = { rootHash: 'ab'.repeat(32), salt: 'cd'.repeat(32), dataBlocks: 100, hashStartBlock: 100, imageBytes: 4096 * 102 };
const KEY = { accessKeyId: 'AKIAREADONLY', secretAccessKey: 'read/only+secret', region: 'eu-west-1' };
const CURLRC = 'usr/lib/flashroot/rt/etc/flashroot/s3.curlrc';
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-stage-'));
});

afterAll(() => rm(work, { recursive: true, force: true }));

describe('staging an s3 lower into the initramfs', () => {
  it('signed: the key in a curl config of mode 0600, with the CA in the runtime root and the endpoint in network.conf', async () => {
    const root = join(work, 'signed');
    await stageNetworkLower(root, { kind: 'nbdkit-s3', verity: VERITY, endpoint: 'http://10.0.2.2:9000/', credentials: KEY });
    expect((await stat(join(root, CURLRC))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(root, CURLRC), 'utf8')).toBe(
      'user = "AKIAREADONLY:read/only+secret"\naws-sigv4 = "aws:amz:eu-west-1:s3"\nheader = "x-amz-content-sha256: UNSIGNED-PAYLOAD"\n',
    );
    // The client is in the network layer, a squashfs beside the template, not in it.
    expect(await stat(join(root, 'usr/lib/flashroot/rt/usr/bin/nbdkit')).catch(() => undefined)).toBeUndefined();
    expect((await stat(join(root, 'usr/lib/flashroot/rt/etc/flashroot/ca.pem'))).size).toBeGreaterThan(0);
    const net = await readFile(join(root, 'etc/flashroot/network.conf'), 'utf8');
    expect(net).toContain(`FR_NET_BYTES='${VERITY.imageBytes}'`);
    expect(net).toMatch(/FR_NET_VERITY='0 \d+ verity 1 @DEV@ @DEV@ 4096 4096 100 100 sha256 (ab){32} (cd){32}'/);
    // The init appends /BUCKET/KEY: no doubled slash.
    expect(net).toContain("FR_NET_S3_URL='http://10.0.2.2:9000'\n");
    expect(net).toContain("FR_NET_CLIENT='nbdkit-s3'");
    expect(await readFile(join(root, 'etc/modprobe.d/nbd.conf'), 'utf8')).toBe('options nbd nbds_max=1 max_part=0\n');
  }, 60_000);

  it('public: no key at all', async () => {
    const root = join(work, 'public');
    await stageNetworkLower(root, { kind: 'nbdkit-s3', verity: VERITY, endpoint: 'https://s3.example' });
    expect(await stat(join(root, CURLRC)).catch(() => undefined)).toBeUndefined();
    expect(await readFile(join(root, 'etc/flashroot/network.conf'), 'utf8')).toContain("FR_NET_S3_URL='https://s3.example'");
  }, 60_000);

  it('refuses a key holding a quote or a line break, which would smuggle settings into the config', async () => {
    for (const [i, secretAccessKey] of ['x\nurl = "http://elsewhere/"', 'x" -o "/etc/passwd'].entries()) {
      await expect(stageNetworkLower(join(work, `bad${i}`), { kind: 'nbdkit-s3', verity: VERITY, endpoint: 'http://h', credentials: { ...KEY, secretAccessKey } })).rejects.toThrow(
        /the S3 key or region holds a quote, a backslash or a line break/,
      );
    }
  }, 60_000);
});

describe('staging a tree lower (s3fs) into the initramfs', () => {
  it('carries no dmsetup and no glibc of its own: there is no image for dm-verity to map', async () => {
    const root = join(work, 's3fs');
    await stageNetworkLower(root, { kind: 's3fs', endpoint: 'http://10.0.2.2:9000' });
    for (const path of ['usr/sbin/dmsetup', 'sbin/dmsetup', 'usr/lib/x86_64-linux-gnu']) expect(await lstat(join(root, path)).catch(() => undefined), path).toBeUndefined();
    expect(await readFile(join(root, 'etc/flashroot/network.conf'), 'utf8')).toContain("FR_NET_S3_URL='http://10.0.2.2:9000'");
  }, 60_000);

  it('beside an image lower, which carries dmsetup with its libraries', async () => {
    const root = join(work, 'image');
    await stageNetworkLower(root, { kind: 'httpfs2', verity: VERITY });
    const { stdout } = await run('find', [root, '-name', 'dmsetup']);
    expect(stdout.trim()).not.toBe('');
  }, 60_000);
});

describe('staging a channel lower into the initramfs', () => {
  it('carries signify with its libraries, the key and the channel, and no root hash', async () => {
    const root = join(work, 'channel');
    const key = join(work, 'fleet.pub');
    await writeFile(key, 'untrusted comment: fleet public key\nRWSjyyiQtR/9UM7INiHawbNffHbBvCNNF+1Ks6oluWvXvLyVo+AGqjJL\n');
    await stageNetworkLower(root, { kind: 'httpfs2', channel: { name: 'stable', trustKey: key, builtAt: 1764590400, floorPath: CHANNEL_FLOOR_PATH } });
    // Run before switch_root, from the initramfs itself (beside dmsetup), not from the runtime root.
    expect((await lstat(join(root, 'usr/bin/signify-openbsd'))).isFile()).toBe(true);
    const libs = await readdir(join(root, 'usr/lib/x86_64-linux-gnu'));
    expect(libs.some((l) => l.startsWith('libbsd.so'))).toBe(true);
    expect(await readFile(join(root, 'etc/flashroot/channel.pub'), 'utf8')).toBe(await readFile(key, 'utf8'));
    const conf = await readFile(join(root, 'etc/flashroot/channel.conf'), 'utf8');
    expect(conf).toContain("FR_CH_NAME='stable'");
    expect(conf).toContain("FR_CH_BUILT='1764590400'");
    expect(conf).toContain(`FR_CH_FLOOR_PATH='${CHANNEL_FLOOR_PATH}'`);
    const net = await readFile(join(root, 'etc/flashroot/network.conf'), 'utf8');
    expect(net).not.toMatch(/FR_NET_BYTES|FR_NET_VERITY/);
    expect(net).toContain("FR_NET_CLIENT='httpfs2'");
  }, 60_000);
});

/** The network layer of an nbdkit client, nbdkit's plugin directory as the layer has it (no leading slash), and the layer's listing. */
async function nbdkitLayer(kind: 'nbdkit' | 'nbdkit-s3'): Promise<{ layer: NetLayer; plugindir: string; stdout: string }> {
  await mkdir(join(work, kind));
  const layer = await buildNetworkLayer(kind, join(work, kind), { compressor: 'zstd', epoch: 315532800 });
  const { stdout: config } = await run('nbdkit', ['--dump-config']);
  const plugindir = (/^plugindir=(.+)$/m.exec(config)?.[1] ?? '').slice(1);
  const { stdout } = await run('unsquashfs', ['-lls', layer.file]);
  return { layer, plugindir, stdout };
}

describe('the network layer (a squashfs in the initramfs)', () => {
  it('holds rclone, its libraries and the fusermount name it runs, not its settings', async () => {
    const layer = await buildNetworkLayer('rclone-http', work, { compressor: 'zstd', epoch: 315532800 });
    const { stdout } = await run('unsquashfs', ['-lls', layer.file]);
    expect(stdout).toMatch(/^drwxr-xr-x root\/root .* squashfs-root$/m);
    expect(stdout).toMatch(/squashfs-root\/usr\/bin\/rclone\n/);
    expect(stdout).toMatch(/squashfs-root\/usr\/bin\/fusermount -> fusermount3/);
    expect(stdout).toMatch(/squashfs-root\/usr\/lib\/x86_64-linux-gnu\/libc\.so\.6/);
    expect(stdout).not.toMatch(/ca\.pem/);
    expect(layer.clientBytes).toBeGreaterThan(2 * layer.bytes);
    // The same build again gives the same file (the stick's image is reproducible).
    await mkdir(join(work, 'again'));
    const again = await buildNetworkLayer('rclone-http', join(work, 'again'), { compressor: 'zstd', epoch: 315532800 });
    expect(await sha256File(again.file)).toBe(await sha256File(layer.file));
  }, 120_000);

  it("for https: nbdkit with its curl plugin where nbdkit looks for it, nbd-client and curl, with libcurl's libraries", async () => {
    const { layer, plugindir, stdout } = await nbdkitLayer('nbdkit');
    for (const path of ['usr/bin/nbdkit', `${plugindir}/nbdkit-curl-plugin.so`, 'usr/sbin/nbd-client', 'usr/bin/curl', 'usr/lib/x86_64-linux-gnu/libcurl-gnutls.so.4'])
      expect(stdout).toContain(`squashfs-root/${path}`);
    expect(stdout).not.toMatch(/rclone|ca\.pem/);
    // What the initramfs carries instead of rclone's 54 MB.
    expect(layer.clientBytes).toBeLessThan(30e6);
  }, 120_000);

  it("for signed S3: nbdkit's Perl plugin, the S3 reader, the Perl modules it loads and WWW::Curl's libcurl, which load in a chroot of the layer alone", async () => {
    const { layer, plugindir, stdout } = await nbdkitLayer('nbdkit-s3');
    for (const path of ['usr/bin/nbdkit', `${plugindir}/nbdkit-perl-plugin.so`, 'usr/lib/flashroot/s3-reader.pl', 'usr/sbin/nbd-client', 'usr/bin/curl'])
      expect(stdout).toContain(`squashfs-root/${path}`);
    expect(stdout).toMatch(/\/WWW\/Curl\/Easy\.pm\n/);
    expect(stdout).toMatch(/\/auto\/WWW\/Curl\/Curl\.so\n/);
    expect(stdout).toMatch(/\/libperl\.so\.5\.\d+/);
    expect(stdout).not.toMatch(/rclone|ca\.pem|s3\.curlrc/);
    // The proof that nothing is missing: nbdkit loads the plugin and the reader's modules from the
    // layer alone (it stops at the url it needs, after the script has compiled).
    const tree = join(work, 'nbdkit-s3', 'tree');
    await run('unsquashfs', ['-q', '-d', tree, layer.file]);
    const loaded = await run('chroot', [tree, '/usr/bin/nbdkit', '--dump-plugin', 'perl', 'script=/usr/lib/flashroot/s3-reader.pl']);
    expect(loaded.stdout).toMatch(/^name=perl$/m);
    expect(layer.clientBytes).toBeLessThan(30e6);
  }, 120_000);
});
