/**
 * Issue 15 on a systemd root (the installed-looking Debian 12 root): a change made in the booted
 * system is saved by flashroot-save-shutdown.service when systemd powers off, and the next boot
 * has it. Commands come from the kernel command line (systemd.run=), the kernel loaded by QEMU.
 */
import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FatVolume } from '../../src/disk/fat.js';
import { SECTOR } from '../../src/disk/mbr.js';
import { probeStickImage } from '../../src/disk/probe.js';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { INITRD_PATH, KERNEL_PATH } from '../../src/stick/paths.js';
import { Reporter } from '../../src/util/log.js';
import { installedLikeRoot } from '../helpers/installed-root.js';

const FAILURES = ['flashroot: FAIL', 'Kernel panic', 'Entering emergency mode', 'You are in emergency mode'];

let built: BuildResult;
let work: string;
let boots = 0;
let kernel: string;
let initrd: string;

beforeAll(async () => {
  const root = await installedLikeRoot();
  work = await mkdtemp(join(tmpdir(), 'persist-systemd-'));
  built = await build({ root, out: join(work, 'htpc.img'), boot: 'bios', persist: ['/etc/htpc'] }, new Reporter(true));
  const { fat } = await probeStickImage(built.image);
  const vol = await FatVolume.mount(built.image, fat.startLba * SECTOR, fat.sectors * SECTOR);
  try {
    kernel = join(work, 'vmlinuz');
    initrd = join(work, 'initrd.img');
    await writeFile(kernel, vol.readFile(KERNEL_PATH));
    await writeFile(initrd, vol.readFile(INITRD_PATH));
  } finally {
    vol.close();
  }
}, 900_000);

/** Boots until the machine powers itself off (the root's report service does, after the boot). */
async function bootWith(command: string): Promise<string> {
  // The console as it comes, for a boot that hangs (FLASHROOT_KEEP_TMP=1 keeps it).
  const log = join(work, `console-${++boots}.log`);
  const r = await bootImage({
    onLine: (line) => void appendFile(log, `${line}\n`),
    image: built.image, memoryMiB: 2048, writable: true, failOn: FAILURES, timeoutSec: 600,
    extraArgs: ['-kernel', kernel, '-initrd', initrd, '-append', `${built.cmdline} systemd.run="/bin/sh -c '${command}'" systemd.run_success_action=none`],
  });
  const text = r.console.join('\n');
  expect(r.timedOut, text).toBe(false);
  return text;
}

describe('persistence on a systemd root', () => {
  it('saves at shutdown through flashroot-save-shutdown.service, and the next boot has the change', async () => {
    const first = await bootWith('mkdir -p /etc/htpc && echo volume=42 >/etc/htpc/settings.conf');
    expect(first).toContain('flashroot: saves: no saved generation');
    expect(first).toMatch(/flashroot-save: generation 1 saved to slot 0 \(shutdown\)/);
    const second = await bootWith('echo persist-check $(cat /etc/htpc/settings.conf) >/dev/console');
    expect(second).toMatch(/flashroot: saves: applied generation 1 from slot 0/);
    expect(second).toContain('persist-check volume=42');
    // Nothing changed in the second boot: its shutdown writes nothing.
    expect(second).toContain('flashroot-save: nothing changed since generation 1: nothing written');
  }, 1_500_000);
});
