/**
 * The whole point: a demo image written sparse to a used stick (a loop device over a file full of
 * old data) boots in QEMU to the root's init from that stick's bytes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/run.js';
import { attachLoop, detachLoop, makeUsedStick } from '../fixtures/drives/loop.js';

const MiB = 1024 * 1024;
let dir: string;
let attached: string | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-write-boot-'));
});

afterAll(async () => {
  if (attached) await detachLoop(attached);
  await rm(dir, { recursive: true, force: true });
});

describe('write then boot', () => {
  it('boots the loop device\'s backing file to the root\'s init after a sparse write', async () => {
    const image = join(dir, 'demo.img');
    await run('node', ['bin/flashroot.js', 'build', '--demo', '--out', image, '--json'], { timeoutMs: 300_000 });
    const backing = join(dir, 'stick.bin');
    await makeUsedStick(backing, 160 * MiB);
    attached = await attachLoop(backing);
    const w = await run('node', ['bin/flashroot.js', 'write', image, '--drive', attached, '--allow-virtual', `--yes-i-am-sure=${attached}`, '--json'], { timeoutMs: 120_000 });
    const out = JSON.parse(w.stdout) as { imageSize: number; bytesWritten: number; writeBytesPerSecond: number };
    expect(out.bytesWritten).toBeLessThan(out.imageSize);
    console.log(`[write-boot] demo image ${out.imageSize} B, written ${out.bytesWritten} B, ${(out.writeBytesPerSecond / MiB).toFixed(1)} MiB/s`);
    await detachLoop(attached);
    attached = undefined;
    const boot = await run('node', ['bin/flashroot.js', 'try', backing, '--expect', 'flashroot-demo: root init reached', '--timeout', '150'], {
      timeoutMs: 200_000,
      okExitCodes: [1],
    });
    expect(boot.exitCode, boot.stdout.slice(-2000) + boot.stderr.slice(-2000)).toBe(0);
  });
});
