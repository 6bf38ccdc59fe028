/**
 * File-level network lower: the root tree served by sshd on 127.0.0.1, mounted by sshfs from the
 * runtime root with a key baked into the initramfs. Checks what survives (symlinks, modes, owners)
 * and what does not (hard links), as docs/network.md states.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { Reporter } from '../../src/util/log.js';
import { BOOT_FAILURES } from '../helpers/demo.js';
import { makeNetRoot, NET_DONE, NET_INIT } from '../helpers/net-root.js';
import { freePort } from '../helpers/nginx.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

let work: string;
let root: string;
let sshd: Sshd | undefined;
let stick: BuildResult;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-sshfs-'));
  root = join(work, 'root');
  await makeNetRoot(root);
  const port = await freePort();
  sshd = await startSshd(join(work, 'sshd'), port);
  stick = await build(
    {
      root,
      init: NET_INIT,
      out: join(work, 'stick.img'),
      lower: `sshfs://root@10.0.2.2:${port}${root}`,
      sshKey: sshd.clientKey,
      sshKnownHosts: sshd.knownHosts,
      boot: 'bios',
      menuTimeout: 0,
      timeout: 12,
      onfail: 'poweroff',
    },
    new Reporter(true),
  );
}, 300_000);

afterAll(async () => {
  await sshd?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('root tree over sshfs', () => {
  it('boots to the root init; symlinks, modes and owners survive, hard links do not', async () => {
    const r = await bootImage({ image: stick.image, network: true, expect: NET_DONE, failOn: BOOT_FAILURES, timeoutSec: 200, graceMs: 500 });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/flashroot: lower sshfs:\/\/root@10\.0\.2\.2:\d+\/\S+ \(sshfs, file-level\)/);
    expect(text).toMatch(/net-test: lower \S+ fuse\.sshfs/);
    const fidelity = /net-test: fidelity (.*)/.exec(text)?.[1];
    process.stdout.write(`sshfs boot: root init after ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s; initramfs ${stick.initramfs.bytes} bytes; fidelity ${fidelity}\n`);
    expect(text).toContain('net-test: ssh key hidden');
    expect(fidelity).toMatch(/^chain=\/srv\/target links=1 suid=4755 owner=1000:1000:640$/);
  }, 300_000);
});
