/**
 * Updating a stick of the systemd-boot route: each slot has its own UKIs (their command lines name
 * the slot, so the new image's are rebuilt for slot b), and loader.conf's first line picks the slot.
 */
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sectionData } from '../../src/boot/pe.js';
import { build } from '../../src/pipeline/build.js';
import { bootImage } from '../../src/qemu/boot.js';
import { LOADER_CONF, ukiId, ukiPath } from '../../src/stick/paths.js';
import type { UpdateResult } from '../../src/update/update.js';
import { Reporter } from '../../src/util/log.js';
import { buildDemo } from '../helpers/demo.js';
import { bootableSlots, flashroot, releaseRoot, withFat } from '../helpers/slots.js';

describe('flashroot update, systemd-boot route', () => {
  it('writes slot b its own UKIs, points loader.conf at them, and the UEFI boot runs v2 on trial', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flashroot-update-uki-'));
    const opts = { boot: 'uefi', uefiLoader: 'systemd-boot' } as const;
    const v1 = await buildDemo({ ...opts, release: 'v1', roomForUpdate: true });
    const stick = join(dir, 'stick.img');
    await copyFile(v1.image, stick);
    await releaseRoot(join(dir, 'v2-root'), 'v2');
    const v2 = await build({ ...opts, root: join(dir, 'v2-root'), out: join(dir, 'v2.img'), release: 'v2', menuTimeout: 0, confirmAfter: 2 }, new Reporter(true));
    const u = await flashroot(['update', v2.image, '--drive', stick, '--json']);
    expect(u.exitCode, u.stderr).toBe(0);
    expect((JSON.parse(u.stdout) as UpdateResult).written.map((f) => f.path)).toEqual([v2.squashfsPath, ukiPath(ukiId('b')), ukiPath(ukiId('b', true))]);
    await withFat(stick, (fat) => {
      const uki = fat.readFile(ukiPath(ukiId('b')));
      expect(sectionData(uki, '.cmdline')?.toString()).toMatch(/ flashroot\.slot=b$/);
      expect(sectionData(uki, '.osrel')?.toString()).toContain(', slot b');
      expect(fat.readFile(LOADER_CONF).toString().split('\n')[0]).toBe('default flashroot-b.efi');
    });
    expect((await bootableSlots(stick)).boots).toEqual({ 'systemd-boot': 'b' });
    const r = await bootImage({ image: stick, uefi: true, writable: true, expect: 'release v2 state:', failOn: ['Kernel panic', 'flashroot: FAIL'], timeoutSec: 300, graceMs: 1000 });
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toContain('flashroot: slot b (v2) on trial: boot 1 of 3');
    expect(text).toContain('release v2 state: flashroot-slots 1 current=b trial=- tries=0 of=0');
  });
});
