/**
 * Boot from the network: the stick carries kernel + initramfs, the root is a dm-verity squashfs
 * image served by nginx on 127.0.0.1 (10.0.2.2 from the guest) and read lazily with range requests
 * by httpfs2. The scenarios shared with https:// are in test/helpers/net-image.ts (good boot with
 * the server stopped and stalled under it, server down, changed blocks, truncated image); here, a
 * second stick of the same (reproducible) image with flashroot.toram, which outlives its server.
 */
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { Reporter } from '../../src/util/log.js';
import { describeImageLower } from '../helpers/net-image.js';
import { NET_BOOTED, NET_DONE, NET_STOP_SERVER } from '../helpers/net-root.js';

describeImageLower('http', { build: { reproducible: true } }, (s) => {
  let toramStick: BuildResult;
  beforeAll(async () => {
    toramStick = await build({ ...s.buildOptions, out: join(s.work, 'toram', 'stick.img'), toram: '1' }, new Reporter(true));
  }, 300_000);

  it('with flashroot.toram downloads the whole image to RAM first and keeps running without the server', async () => {
    expect(toramStick.network?.url).toBe(s.net.url);
    const nginx = await s.serve('toram');
    const r = await s.boot(NET_DONE, { image: toramStick.image, onLine: (line) => void (line.includes(NET_STOP_SERVER) && s.stopServer()) });
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toContain('flashroot: toram: the root runs from RAM; the server is no longer needed');
    expect(text).toMatch(/net-test: read after server stop ok/);
    expect(await nginx.bytesServed()).toBeGreaterThanOrEqual(s.net.bytes);
  }, 200_000);

  it("brings up a NIC whose driver the initramfs leaves to the stick (pcnet32) with the stick's drivers image, and leaves the stick unmounted", async () => {
    const onStick = s.stick.hardware.onStick;
    expect(onStick?.path).toMatch(/^\/live\/drivers-[0-9a-f]{16}\.sqfs$/);
    expect(s.stick.slot.files.find((f) => f.role === 'drivers')?.path).toBe(onStick?.path);
    await s.serve('stick-nic');
    const r = await s.boot(NET_BOOTED, { nicModel: 'pcnet' });
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(new RegExp(`flashroot: no driver in the initramfs for the network controller at \\S+: loading it from the stick \\(${onStick?.path}\\)`));
    expect(text).toMatch(/flashroot: network eth0 10\.0\.2\.15\//);
    expect(text).toContain('net-test: nic driver pcnet32; stick mounts 0');
  }, 200_000);
});
