/**
 * A user's installed system moved onto a stick, then lived with: a Debian 12 root with its own
 * kernel (not the build host's), an fstab naming the disk it was installed on, a swapfile, a
 * machine-id and sshd, booted with 2 GiB and a NIC whose driver is not in the initramfs. Built the
 * way a home-theatre box is (`--persist /var/lib/systemd --room-for-update`), it must come up the
 * way it came up from its disk; systemd's own state is saved as it powers off; an update in place
 * boots on trial, is confirmed by flashroot-confirm.service, and still has the saved state.
 * One build and two boots of the big root cover issues 13, 15 and 16 on systemd.
 */
import { appendFile, copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECTOR } from '../../src/disk/mbr.js';
import { probeStickImage } from '../../src/disk/probe.js';
import { inspectImage } from '../../src/inspect/inspect.js';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage, type BootResult } from '../../src/qemu/boot.js';
import { MODULES_IMAGE_PATH } from '../../src/initramfs/modules-image.js';
import { initrdPath } from '../../src/stick/paths.js';
import type { UpdateResult } from '../../src/update/update.js';
import { Reporter } from '../../src/util/log.js';
import { run } from '../../src/util/run.js';
import { sha256 } from '../helpers/demo.js';
import { installedLikeRoot, MACHINE_ID, REPORT_DONE, REPORT_PREFIX } from '../helpers/installed-root.js';
import { installedKernel } from '../helpers/kernels.js';
import { bootableSlots, flashroot } from '../helpers/slots.js';

/** Not in the initramfs of a local lower (it carries storage drivers only): the booted system loads it. */
const NIC = 'e1000';
const FAILURES = ['flashroot: FAIL', 'Kernel panic', 'Entering emergency mode', 'You are in emergency mode'];

interface SystemBoot {
  r: BootResult;
  text: string;
  /** What the root's report service said, by key. */
  report: Map<string, string[]>;
}

let work: string;
let built: BuildResult;
let stick: string;
let boots = 0;

/** The boot files and the MBR: what no boot may change (the saves area, partition 2, may). */
async function bootBytesSha(image: string): Promise<string> {
  const { fat } = await probeStickImage(image);
  return sha256(image, { start: 0, end: (fat.startLba + fat.sectors) * SECTOR });
}

/** Boots the stick until the system has reported and powered itself off. */
async function bootSystem(): Promise<SystemBoot> {
  // The console as it comes, for a boot that hangs (FLASHROOT_KEEP_TMP=1 keeps it).
  const log = join(work, `console-${++boots}.log`);
  const r = await bootImage({
    image: stick, memoryMiB: 2048, network: true, nicModel: NIC, writable: true,
    onLine: (line) => void appendFile(log, `${line}\n`),
    // After the report the system powers itself off: read its shutdown too.
    expect: REPORT_DONE, failOn: FAILURES, timeoutSec: 600, graceMs: 120_000,
  });
  const report = new Map<string, string[]>();
  for (const line of r.console) {
    const m = new RegExp(`${REPORT_PREFIX} (\\S+) ?(.*)$`).exec(line);
    if (m) report.set(m[1] ?? '', [...(report.get(m[1] ?? '') ?? []), (m[2] ?? '').trim()]);
  }
  return { r, text: r.console.join('\n'), report };
}

/** What a user checks on any boot of their system: it came up whole and went down cleanly. */
function expectHealthy({ r, text, report }: SystemBoot): void {
  expect(r.failedOn, text).toBeUndefined();
  expect(r.matched, text).toBe(true);
  expect(report.get('state'), text).toEqual(['running']);
  expect(report.get('failed')).toBeUndefined();
  expect(report.get('job')).toBeUndefined();
  expect(text).not.toMatch(/A start job is running for|Dependency failed/);
  expect(text).toContain('reboot: Power down');
  expect(text).not.toContain('[FAILED]');
}

let first: SystemBoot;
let bootBytes: string;

beforeAll(async () => {
  const root = await installedLikeRoot();
  work = await mkdtemp(join(tmpdir(), 'flashroot-installed-'));
  built = await build(
    { root, out: join(work, 'v1.img'), persist: ['/var/lib/systemd'], roomForUpdate: true, release: 'v1', menuTimeout: 0 },
    new Reporter(true),
  );
  stick = join(work, 'stick.img');
  await copyFile(built.image, stick);
  bootBytes = await bootBytesSha(stick);
  first = await bootSystem();
  process.stdout.write(`installed root: squashfs ${built.squashfsBytes} B, multi-user after ${((first.r.msToExpect ?? 0) / 1000).toFixed(1)} s from starting QEMU\n`);
}, 1_200_000);

describe('an installed Debian 12 system on a stick', () => {
  it("boots its own kernel, not the build host's", async () => {
    expect(built.kernel.version).not.toBe((await installedKernel()).version);
    expect(built.kernel.version).toMatch(/-rt-amd64$/);
    expect(first.report.get('kernel'), first.text).toEqual([built.kernel.version]);
  });

  it('reaches multi-user with nothing failed and no job waiting for a device, and shuts down cleanly', () => {
    expectHealthy(first);
  });

  it("brings up the NIC with the root's own driver, and its sshd", async () => {
    const initrd = join(work, 'initrd.img');
    const unpacked = join(work, 'initrd');
    await run('mcopy', ['-i', `${built.image}@@1M`, `::${initrdPath('a')}`, initrd]);
    await run('sh', ['-c', `mkdir '${unpacked}' && cd '${unpacked}' && zstd -dc '${initrd}' | cpio -id --quiet`]);
    // The initramfs's modules are a squashfs the init mounts (src/initramfs/modules-image.ts).
    const listing = await run('unsquashfs', ['-l', join(unpacked, MODULES_IMAGE_PATH)]);
    expect(listing.stdout).toMatch(/\/usb-storage\.ko/);
    expect(listing.stdout).not.toMatch(new RegExp(`/${NIC}\\.ko`));
    expect(first.report.get('addr')?.join('\n')).toMatch(/UP\s+10\.0\.2\.15\/24/);
    expect(first.report.get('ssh')).toEqual(['active']);
  });

  it('keeps its identity, runs from the overlay, and left its swap behind', () => {
    expect(first.report.get('machine-id')).toEqual([MACHINE_ID]);
    expect(first.report.get('root')).toEqual(['overlay']);
    expect(first.report.get('swaps')).toEqual(['0']);
    expect(first.report.get('swapfile')).toEqual(['absent']);
    expect(first.report.get('modprobe-loop')).toEqual(['ok']);
  });

  it("saves systemd's state as it powers off (flashroot-save-shutdown.service), leaving the boot files unchanged", async () => {
    expect(first.text).toContain('flashroot: saves: no saved generation');
    expect(first.text).toMatch(/flashroot-save: generation 1 saved to slot 0 \(shutdown\)/);
    expect((await inspectImage(stick)).saves?.slots[0]?.state).toBe('valid');
    expect(await bootBytesSha(stick)).toBe(bootBytes);
  });

  it('updated in place, boots the new slot on trial, confirmed by flashroot-confirm.service, with the saved state applied', { timeout: 1_200_000 }, async () => {
    // The same build once more, as v2: one build of the big root, and the update still fills slot b
    // (its kernel and initramfs; the root image is shared) and puts it on trial.
    const u = await flashroot(['update', built.image, '--drive', stick, '--release', 'v2', '--json']);
    expect(u.exitCode, u.stderr).toBe(0);
    const update = JSON.parse(u.stdout) as UpdateResult;
    process.stdout.write(`systemd root update: ${update.sectorsWritten * 512} bytes written (${update.written.map((f) => f.path).join(', ')}), a full write ${update.fullWriteBytes}\n`);
    expect(update.written.map((f) => f.path)).toEqual(['/boot/vmlinuz-b', '/boot/initrd-b.img']);
    const second = await bootSystem();
    expectHealthy(second);
    expect(second.text).toContain('flashroot: slot b (v2) on trial: boot 1 of 3');
    expect(second.text).toMatch(/flashroot: saves: applied generation 1 from slot 0/);
    expect(second.text).toContain('flashroot-confirm: slot b came up and is the current slot now; slot a is the fallback');
    expect(second.report.get('machine-id')).toEqual([MACHINE_ID]);
    expect(second.text).toMatch(/flashroot-save: (generation 2 saved to slot 1 \(shutdown\)|nothing changed since generation 1)/);
    expect((await bootableSlots(stick)).slots.state).toEqual({ current: 'b', tries: 0, of: 0 });
  });
});
