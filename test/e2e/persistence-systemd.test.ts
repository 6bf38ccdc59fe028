/**
 * Issue 15 on a systemd root (the installed-looking Debian 12 root, which reports and powers off
 * by itself once booted): /var/lib/systemd, which systemd changes at every boot (random seed, timer
 * stamps), is saved by flashroot-save-shutdown.service as systemd powers off, and the next boot
 * applies that generation before systemd starts.
 */
import { appendFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { Reporter } from '../../src/util/log.js';
import { inspectImage } from '../../src/inspect/inspect.js';
import { installedLikeRoot, REPORT_DONE } from '../helpers/installed-root.js';
import { slotBootFiles } from '../helpers/slot-boot-files.js';

const FAILURES = ['flashroot: FAIL', 'Kernel panic', 'Entering emergency mode', 'You are in emergency mode'];

let built: BuildResult;
let work: string;
let boots = 0;
let kernel: string;
let initrd: string;

beforeAll(async () => {
  const root = await installedLikeRoot();
  work = await mkdtemp(join(tmpdir(), 'persist-systemd-'));
  built = await build({ root, out: join(work, 'htpc.img'), boot: 'bios', persist: ['/var/lib/systemd'] }, new Reporter(true));
  ({ kernel, initrd } = await slotBootFiles(built.image, work));
}, 900_000);

/** Boots until the machine powers itself off (the root's report service does, after the boot). */
async function bootOnce(): Promise<string> {
  // The console as it comes, for a boot that hangs (FLASHROOT_KEEP_TMP=1 keeps it).
  const log = join(work, `console-${++boots}.log`);
  const r = await bootImage({
    onLine: (line) => void appendFile(log, `${line}\n`),
    image: built.image, memoryMiB: 2048, writable: true, failOn: FAILURES, timeoutSec: 600,
    // As the installed-root test boots it (its NIC, so networkd's wait ends), then reads the shutdown.
    network: true, nicModel: 'e1000', expect: REPORT_DONE, graceMs: 120_000,
    extraArgs: ['-kernel', kernel, '-initrd', initrd, '-append', built.cmdline],
  });
  const text = r.console.join('\n');
  expect(r.matched, text).toBe(true);
  return text;
}

describe('persistence on a systemd root', () => {
  it('saves at shutdown through flashroot-save-shutdown.service, and the next boot applies it', async () => {
    const first = await bootOnce();
    expect(first).toContain('flashroot: saves: no saved generation');
    expect(first).toMatch(/flashroot-save: generation 1 saved to slot 0 \(shutdown\)/);
    const slots = (await inspectImage(built.image)).saves!.slots;
    expect(slots[0]!.state).toBe('valid');
    const second = await bootOnce();
    expect(second).toMatch(/flashroot: saves: applied generation 1 from slot 0/);
    expect(second).toMatch(/flashroot-save: (generation 2 saved to slot 1 \(shutdown\)|nothing changed since generation 1)/);
  }, 1_500_000);
});
