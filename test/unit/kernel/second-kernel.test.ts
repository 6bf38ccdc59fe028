/**
 * A second real kernel, Debian's real-time flavour, so nothing silently depends on the installed
 * one. Fetched with apt on first run (CI runs as root with apt); skipped only if apt cannot reach it.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveModules } from '../../../src/initramfs/modules.js';
import { checkKernelFeatures } from '../../../src/kernel/features.js';
import { kernelVersionFromImage } from '../../../src/kernel/version.js';
import { fetchRtKernel, INSTALLED_VERSION, type FetchedKernel } from './fixtures.js';

describe('Debian real-time kernel, unpacked from its package', () => {
  let kernel: FetchedKernel | { unavailable: string };
  beforeAll(async () => {
    kernel = await fetchRtKernel();
  });
  const need = (skip: (note: string) => void): FetchedKernel => {
    if ('unavailable' in kernel) skip(kernel.unavailable);
    return kernel as FetchedKernel;
  };

  it('has its version read from its vmlinuz', async ({ skip }) => {
    const k = need(skip);
    expect(k.version).toMatch(/-rt-amd64$/);
    expect(k.version).not.toBe(INSTALLED_VERSION);
    expect(await kernelVersionFromImage(k.image)).toBe(k.version);
  });

  it('passes the feature check, finding its config under the same root', async ({ skip }) => {
    const k = need(skip);
    await access(join(k.root, 'boot', `config-${k.version}`));
    expect((await checkKernelFeatures(k.modulesDir)).provided.squashfs).toBe('module');
  });

  it('resolves the storage + fs closure to its own files', async ({ skip }) => {
    const k = need(skip);
    const r = await resolveModules(k.modulesDir, { groups: ['storage', 'fs'] });
    expect(r.kernelVersion).toBe(k.version);
    expect(r.loadOrder).toEqual(expect.arrayContaining(['usb_storage', 'scsi_mod', 'vfat', 'fat', 'squashfs', 'overlay', 'loop']));
    for (const f of r.files) {
      expect(f.src.startsWith(`${k.modulesDir}/`)).toBe(true);
      expect(f.dest.startsWith(`lib/modules/${k.version}/`)).toBe(true);
    }
    await Promise.all(r.files.map((f) => access(f.src)));
  });
});
