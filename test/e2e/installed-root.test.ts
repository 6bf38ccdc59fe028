/**
 * A user's installed system, moved onto a stick with default options: a Debian 12 root with its own
 * kernel (not the build host's), an fstab naming the disk it was installed on, a swapfile, a
 * machine-id and sshd, booted with 2 GiB and a NIC whose driver is not in the initramfs. It must come
 * up the way it came up from its disk.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage, type BootResult } from '../../src/qemu/boot.js';
import { Reporter } from '../../src/util/log.js';
import { run } from '../../src/util/run.js';
import { initrdPath } from '../../src/stick/paths.js';
import { sha256 } from '../helpers/demo.js';
import { installedKernel } from '../helpers/kernels.js';
import { installedLikeRoot, MACHINE_ID, REPORT_DONE, REPORT_PREFIX } from '../helpers/installed-root.js';

/** Not in the initramfs of a local lower (it carries storage drivers only): the booted system loads it. */
const NIC = 'e1000';
const FAILURES = ['flashroot: FAIL', 'Kernel panic', 'Entering emergency mode', 'You are in emergency mode'];

let built: BuildResult;
let boot: BootResult;
let report: Map<string, string[]>;
let before: string;

beforeAll(async () => {
  const root = await installedLikeRoot();
  const out = join(await mkdtemp(join(tmpdir(), 'flashroot-installed-')), 'htpc.img');
  built = await build({ root, out }, new Reporter(true));
  before = await sha256(built.image);
  boot = await bootImage({
    image: built.image, memoryMiB: 2048, network: true, nicModel: NIC, writable: true,
    // After the report the system powers itself off: read its shutdown too.
    expect: REPORT_DONE, failOn: FAILURES, timeoutSec: 600, graceMs: 120_000,
  });
  report = new Map();
  for (const line of boot.console) {
    const m = new RegExp(`${REPORT_PREFIX} (\\S+) ?(.*)$`).exec(line);
    if (m) report.set(m[1] ?? '', [...(report.get(m[1] ?? '') ?? []), (m[2] ?? '').trim()]);
  }
  process.stdout.write(`installed root: squashfs ${built.squashfsBytes} B, multi-user after ${((boot.msToExpect ?? 0) / 1000).toFixed(1)} s from starting QEMU\n`);
});

describe('an installed Debian 12 system, built with default options', () => {
  it('boots its own kernel, not the build host\'s', async () => {
    expect(built.kernel.version).not.toBe((await installedKernel()).version);
    expect(built.kernel.version).toMatch(/-rt-amd64$/);
    expect(report.get('kernel'), boot.console.join('\n')).toEqual([built.kernel.version]);
  });

  it('reaches multi-user with nothing failed and no job waiting for a device', () => {
    const text = boot.console.join('\n');
    expect(boot.failedOn, text).toBeUndefined();
    expect(boot.matched, text).toBe(true);
    expect(report.get('state')).toEqual(['running']);
    expect(report.get('failed')).toBeUndefined();
    expect(report.get('job')).toBeUndefined();
    expect(text).not.toMatch(/A start job is running for|Dependency failed/);
  });

  it('shuts down without a failed unit (the stick\'s mounts are left to the end)', () => {
    const text = boot.console.join('\n');
    expect(text).toContain('reboot: Power down');
    expect(text).not.toContain('[FAILED]');
  });

  it('brings up the NIC with the root\'s own driver, and its sshd', async () => {
    const initrd = join(await mkdtemp(join(tmpdir(), 'flashroot-installed-')), 'initrd.img');
    await run('mcopy', ['-i', `${built.image}@@1M`, `::${initrdPath('a')}`, initrd]);
    const listing = await run('sh', ['-c', `zstd -dc '${initrd}' | cpio -t --quiet`]);
    expect(listing.stdout).not.toMatch(new RegExp(`/${NIC}\\.ko`));
    expect(report.get('addr')?.join('\n')).toMatch(/UP\s+10\.0\.2\.15\/24/);
    expect(report.get('ssh')).toEqual(['active']);
  });

  it('keeps its identity, runs from the overlay, and left its swap behind', () => {
    expect(report.get('machine-id')).toEqual([MACHINE_ID]);
    expect(report.get('root')).toEqual(['overlay']);
    expect(report.get('swaps')).toEqual(['0']);
    expect(report.get('swapfile')).toEqual(['absent']);
    expect(report.get('modprobe-loop')).toEqual(['ok']);
  });

  it('leaves the stick unchanged', async () => {
    expect(await sha256(built.image)).toBe(before);
  });
});
