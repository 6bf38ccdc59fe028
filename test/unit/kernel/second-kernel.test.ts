/**
 * Kernels other than the installed one, so nothing silently depends on it: Debian's real-time
 * flavour of the same generation, and the bookworm-backports kernel (a newer generation whose
 * modules are .ko.xz). Fetched with apt on first run (CI runs as root with apt); skipped only if
 * apt cannot reach them.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveModules } from '../../../src/initramfs/modules.js';
import { checkKernelFeatures } from '../../../src/kernel/features.js';
import { kernelVersionFromImage } from '../../../src/kernel/version.js';
import { BACKPORTS_KERNEL, fetchKernel, installedKernel, RT_KERNEL, type KernelPackage, type TestKernel } from '../../helpers/kernels.js';

describe.each<[string, KernelPackage, RegExp]>([
  ['Debian real-time kernel', RT_KERNEL, /-rt-amd64$/],
  ['bookworm-backports kernel', BACKPORTS_KERNEL, /^\d+\.\d+\.\d+\+bpo-amd64$|^\d+\.\d+\.\d+\+deb\d+-amd64$/],
])('%s, unpacked from its package', (_name, spec, versionShape) => {
  let kernel: TestKernel | { unavailable: string };
  beforeAll(async () => {
    kernel = await fetchKernel(spec);
  });
  const need = (skip: (note: string) => void): TestKernel => {
    if ('unavailable' in kernel) skip(kernel.unavailable);
    return kernel as TestKernel;
  };

  it('has its version read from its vmlinuz, not the installed one', async ({ skip }) => {
    const k = need(skip);
    expect(k.version).toMatch(versionShape);
    expect(k.version).not.toBe((await installedKernel()).version);
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
