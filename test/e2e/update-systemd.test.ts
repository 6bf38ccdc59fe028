/**
 * An installed Debian 12 system (systemd) updated in place: the new slot boots on trial, and
 * flashroot-confirm.service (after multi-user.target) confirms it before the boot counts as complete.
 */
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { build } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import type { UpdateResult } from '../../src/update/update.js';
import { Reporter } from '../../src/util/log.js';
import { installedLikeRoot, REPORT_DONE } from '../helpers/installed-root.js';
import { bootableSlots, flashroot } from '../helpers/slots.js';

describe('flashroot update of a systemd root', () => {
  it('boots the new slot on trial and confirms it through flashroot-confirm.service', { timeout: 1_500_000 }, async () => {
    const root = await installedLikeRoot();
    const dir = await mkdtemp(join(tmpdir(), 'flashroot-update-systemd-'));
    const v1 = await build({ root, out: join(dir, 'v1.img'), boot: 'bios', release: 'v1', roomForUpdate: true, menuTimeout: 0 }, new Reporter(true));
    const stick = join(dir, 'stick.img');
    await copyFile(v1.image, stick);
    // The same build once more, as v2: one build of the big root, and the update still fills slot b
    // (its kernel and initramfs; the root image is shared) and puts it on trial.
    const u = await flashroot(['update', v1.image, '--drive', stick, '--release', 'v2', '--json']);
    expect(u.exitCode, u.stderr).toBe(0);
    const r1 = JSON.parse(u.stdout) as UpdateResult;
    process.stdout.write(`systemd root update: ${r1.sectorsWritten * 512} bytes written (${r1.written.map((f) => f.path).join(', ')}), a full write ${r1.fullWriteBytes}\n`);
    const r = await bootImage({ image: stick, memoryMiB: 2048, writable: true, expect: REPORT_DONE, failOn: ['flashroot: FAIL', 'Kernel panic', 'emergency mode'], timeoutSec: 600, graceMs: 5000 });
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toContain('flashroot: slot b (v2) on trial: boot 1 of 3');
    expect(text).toContain('flashroot-confirm: slot b came up and is the current slot now; slot a is the fallback');
    expect((await bootableSlots(stick)).slots.state).toEqual({ current: 'b', tries: 0, of: 0 });
    expect(r1.written.map((f) => f.path)).toEqual(['/boot/vmlinuz-b', '/boot/initrd-b.img']);
  });
});
