/**
 * The on-stick copy of a channel (build --channel stable --trust A.pub --offline-copy; issue 17)
 * over plain http (nginx on 127.0.0.1, 10.0.2.2 from the guest), one writable stick booted three
 * times: v1 with the server up (copied to the stick in the background, read back through
 * dm-verity); v1 again (nothing written: no copy, no floor); the server stopped (the on-stick copy
 * boots, verified with the stick's key, and says so). Then v2 (copied into the other slot), v3
 * whose copy is cut off by a power cut (QEMU quit while the slot is pending, the server paused so
 * the copy cannot finish first), and a boot without a network card: the complete copy of v2 boots.
 * The failing case without a copy is network-channel.test.ts's "server down" test.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectImage } from '../../src/inspect/inspect.js';
import { makeNetworkImage } from '../../src/network/build-lower.js';
import { QmpClient } from '../../src/qemu/qmp.js';
import { makeSquashfs } from '../../src/squashfs/mksquashfs.js';
import { copyLayout, copySlotOffset, parseCopyHeader } from '../../src/stick/channel-copy.js';
import { publishChannelToDir } from '../../src/network/publish.js';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { makeDemoRoot } from '../../src/root/demo-root.js';
import { Reporter } from '../../src/util/log.js';
import { run } from '../../src/util/run.js';
import { freePort, startNginx, type Nginx } from '../helpers/nginx.js';

const CHANNEL = 'stable';
const DONE = 'copy-test: done';
const COPIED = /flashroot: channel stable: version (\d+) copied to the stick \((\d+) MiB, (\d+) bytes \+ (\d+) of signed manifest \+ 2 header writes, slot (\d)\) in (\d+) ms, checked by dm-verity in (\d+) ms/;

/** A root that says which version it runs, waits for the copy (if one was started), and stops. */
const rootInit = (version: string) => `#!/bin/sh
PATH=/bin:/sbin
export PATH
echo "copy-test: running ${version}"
i=0
while [ "$i" -lt 240 ] && grep -qE '^(pending|running)' /run/flashroot/channel-copy.state 2>/dev/null; do sleep 0.5; i=$((i + 1)); done
echo "copy-test: copy state $(cat /run/flashroot/channel-copy.state 2>/dev/null || echo none)"
echo "${DONE}"
sync
poweroff -f
`;

let work: string;
let www: string;
let nginx: Nginx;
let stick: BuildResult;
let key: { pub: string; sec: string };
let port: number;
let url: string;
const images: Record<string, string> = {};

/** A root for version `v` with `mib` MiB of random data, as the image a build of it would publish. */
async function makeVersion(v: string, mib: number): Promise<string> {
  const dir = join(work, `root-${v}`);
  await makeDemoRoot(dir, rootInit(v));
  await mkdir(join(dir, 'srv'));
  await writeFile(join(dir, 'srv', 'big'), randomBytes(mib * 2 ** 20));
  return dir;
}

function changedSectors(a: Buffer, b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i += 512) if (!a.subarray(i, i + 512).equals(b.subarray(i, i + 512))) out.push(i / 512);
  return out;
}

async function boot(o: Partial<Parameters<typeof bootImage>[0]> = {}) {
  const r = await bootImage({ image: stick.image, writable: true, network: true, expect: DONE, failOn: ['flashroot: FAIL', 'Kernel panic'], timeoutSec: 300, graceMs: 500, ...o });
  return { r, text: r.console.join('\n') };
}

/** The header of copy slot `i`, read from the stick image on the host. */
async function slotHeader(i: number) {
  const c = stick.channel!.offlineCopy!;
  const l = copyLayout(c.bytes);
  const fh = await open(stick.image, 'r');
  try {
    return parseCopyHeader((await fh.read(Buffer.alloc(512), 0, 512, c.start + copySlotOffset(l, i))).buffer, l);
  } finally {
    await fh.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-channel-copy-'));
  key = { pub: join(work, 'a.pub'), sec: join(work, 'a.sec') };
  await run('signify-openbsd', ['-G', '-n', '-c', 'flashroot test key', '-p', key.pub, '-s', key.sec]);
  port = await freePort();
  url = `http://10.0.2.2:${port}/images/`;
  // Incompressible, so the copy's time says something about a real root's.
  const root1 = await makeVersion('v1', 8);
  stick = await build(
    {
      root: root1,
      lower: url,
      channel: CHANNEL,
      trust: key.pub,
      offlineCopy: true,
      boot: 'bios',
      menuTimeout: 0,
      timeout: 12,
      onfail: 'poweroff',
      out: join(work, 'stick.img'),
    },
    new Reporter(true),
  );
  www = join(work, 'www', 'images');
  await run('mkdir', ['-p', www]);
  nginx = await startNginx(join(work, 'www'), port, join(work, 'nginx'));
  await publishChannelToDir(stick.network?.path ?? '', www, { channel: CHANNEL, signKey: key.sec, expiresInSec: 3600 });
  // v2 and v3: only images, as build makes them of a root (each smaller than a slot's room).
  for (const v of ['v2', 'v3']) {
    const sqfs = join(work, `${v}.sqfs`);
    await makeSquashfs({ source: await makeVersion(v, 8), output: sqfs, compressor: 'zstd', excludes: [] });
    await mkdir(join(work, v));
    images[v] = (await makeNetworkImage(sqfs, { url }, join(work, v))).path;
  }
}, 400_000);

afterAll(async () => {
  await nginx?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a channel stick with an on-stick copy (--offline-copy)', () => {
  it('has an empty copy area as partition 2, two slots with room for twice the image', async () => {
    const c = stick.channel?.offlineCopy;
    expect(c).toBeDefined();
    expect(c!.maxImageBytes).toBeGreaterThanOrEqual(2 * (stick.network?.bytes ?? 0));
    const r = await inspectImage(stick.image);
    expect(r.offlineCopy?.identityMatches).toBe(true);
    expect(r.offlineCopy?.slots.map((s) => s.state)).toEqual(['empty', 'empty']);
    process.stdout.write(`offline copy: image ${stick.network?.bytes} bytes, copy area ${c!.bytes} bytes (${c!.bytes / 2 ** 20} MiB), slots of ${c!.slotBytes} bytes\n`);
  });

  let serverBootMs = 0;
  it('boots v1 from the server and copies it to the stick in the background, checked through dm-verity', async () => {
    const before = await readFile(stick.image);
    const { r, text } = await boot();
    expect(r.failedOn, text).toBeUndefined();
    expect(text).toContain('copy-test: running v1');
    expect(text).toContain('flashroot: channel stable: version 1 is new to the stick: copying it to slot 0 in the background');
    const m = COPIED.exec(text);
    expect(m, text).not.toBeNull();
    expect(Number(m![3])).toBe(stick.network?.bytes);
    expect(text).toContain('copy-test: copy state done version 1 slot 0');
    const after = await readFile(stick.image);
    const changed = changedSectors(before, after);
    const copy = (await inspectImage(stick.image)).offlineCopy!;
    expect(copy.slots[0]).toMatchObject({ state: 'complete', version: 1, header: { channel: CHANNEL, bytes: stick.network?.bytes } });
    expect(copy.slots[1]?.state).toBe('empty');
    const inArea = changed.filter((s) => s * 512 >= copy.start);
    process.stdout.write(`${m![0]}\n`);
    process.stdout.write(
      `offline copy of v1: ${changed.length} sectors of the stick changed (${inArea.length} in the copy area = ${inArea.length * 512} bytes for a ${stick.network?.bytes}-byte image, ` +
        `${changed.length - inArea.length} on the FAT: the floor); copied in ${m![6]} ms, checked in ${m![7]} ms; boot to the root's init ${r.msToExpect} ms\n`,
    );
    serverBootMs = r.msToExpect ?? 0;
  }, 400_000);

  it('writes nothing to the stick at the next boot of the same version', async () => {
    const before = await readFile(stick.image);
    const { r, text } = await boot();
    expect(r.failedOn, text).toBeUndefined();
    expect(text).toContain('copy-test: running v1');
    expect(text).not.toContain('copying it to slot');
    expect(text).toContain('copy-test: copy state none');
    expect(changedSectors(before, await readFile(stick.image))).toEqual([]);
    serverBootMs = r.msToExpect ?? serverBootMs;
  }, 400_000);

  it('boots the on-stick copy of v1 when the server is down, and says so', async () => {
    await nginx.stop();
    nginx = { ...nginx, stop: () => Promise.resolve() };
    const before = await readFile(stick.image);
    const { r, text } = await boot();
    expect(r.failedOn, text).toBeUndefined();
    expect(text).toMatch(/flashroot: channel stable: server unreachable \(cannot fetch http:\S+stable\.channel after 12s: .*Connection refused.*\); booting the on-stick copy of version 1 \(slot 0, signature good, copied \d{4}-\d\d-\d\d \d\d:\d\d UTC, expires /);
    expect(text).toMatch(/flashroot: lower http:\S+ from the on-stick copy on \/dev\/sda2 \(dm-verity, root hash [0-9a-f]{64}\)/);
    expect(text).toContain('copy-test: running v1');
    expect(text).toContain('copy-test: copy state none');
    expect(changedSectors(before, await readFile(stick.image))).toEqual([]);
    process.stdout.write(`${/flashroot: channel stable: server unreachable.*/.exec(text)?.[0]}\n`);
    process.stdout.write(`offline copy: boot to the root's init from the copy ${r.msToExpect} ms (12 s of it waiting for the server), from the server ${serverBootMs} ms\n`);
  }, 400_000);

  it('copies v2 into the other slot, keeping v1', async () => {
    nginx = await startNginx(join(work, 'www'), port, join(work, 'nginx-2'));
    await publishChannelToDir(images.v2 ?? '', www, { channel: CHANNEL, signKey: key.sec, expiresInSec: 3600 });
    const { r, text } = await boot();
    expect(r.failedOn, text).toBeUndefined();
    expect(text).toContain('copy-test: running v2');
    expect(text).toContain('copying it to slot 1 in the background');
    expect(text).toContain('copy-test: copy state done version 2 slot 1');
    process.stdout.write(`${COPIED.exec(text)?.[0]}\n`);
    const copy = (await inspectImage(stick.image)).offlineCopy!;
    expect(copy.slots.map((s) => [s.state, s.version])).toEqual([['complete', 1], ['complete', 2]]);
    expect(copy.newest).toBe(1);
  }, 400_000);

  it('a power cut while v3 is copied leaves slot 0 pending; without a network card, the complete copy of v2 boots', async () => {
    await publishChannelToDir(images.v3 ?? '', www, { channel: CHANNEL, signKey: key.sec, expiresInSec: 3600 });
    const qmpSocket = join(work, 'qmp.sock');
    let cut: Promise<void> | undefined;
    const r = await bootImage({
      image: stick.image,
      writable: true,
      network: true,
      qmpSocket,
      expect: 'copy-test: never',
      failOn: ['flashroot: FAIL', 'Kernel panic'],
      timeoutSec: 300,
      onLine: (line) => {
        if (cut || !line.includes('version 3 is new to the stick: copying it to slot 0')) return;
        cut = (async () => {
          for (let i = 0; i < 3000 && (await slotHeader(0)).kind !== 'pending'; i++) await sleep(20);
          // The pending header is on the stick: a paused server holds the copy at its image, then the power goes.
          nginx.pause();
          const qmp = await QmpClient.connect(qmpSocket);
          await qmp.execute('quit').catch(() => undefined);
          qmp.close();
        })();
      },
    });
    await cut;
    nginx.resume();
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(await slotHeader(0)).toEqual({ kind: 'pending', version: 3 });
    expect((await slotHeader(1)).kind).toBe('complete');
    const off = await boot({ network: false });
    expect(off.r.failedOn, off.text).toBeUndefined();
    expect(off.text).toContain('flashroot: no network interface after 12s: looking for the channel');
    expect(off.text).toMatch(/booting the on-stick copy of version 2 \(slot 1, signature good, .*; older than version 3, which this stick booted but whose copy was not completed\)/);
    expect(off.text).toContain('copy-test: running v2');
    process.stdout.write(`${/flashroot: channel stable: server unreachable.*/.exec(off.text)?.[0]}\n`);
  }, 600_000);
});
