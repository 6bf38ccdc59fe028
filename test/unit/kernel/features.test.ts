import { afterAll, describe, expect, it } from 'vitest';
import { KernelError } from '../../../src/errors.js';
import { checkKernelFeatures } from '../../../src/kernel/features.js';
import { installedKernel } from '../../helpers/kernels.js';
import { makeModulesDir, removeModulesDirs } from './fixtures.js';

afterAll(removeModulesDirs);

const ALL_AS_MODULES = {
  'kernel/fs/squashfs/squashfs.ko': [],
  'kernel/fs/overlayfs/overlay.ko': [],
  'kernel/fs/fat/fat.ko': [],
  'kernel/fs/fat/vfat.ko': ['kernel/fs/fat/fat.ko'],
  'kernel/drivers/block/loop.ko': [],
};

function without(path: string): Record<string, string[]> {
  return Object.fromEntries(Object.entries(ALL_AS_MODULES).filter(([p]) => p !== path));
}

describe('checkKernelFeatures', () => {
  it('accepts the installed Debian kernel, everything as modules', async () => {
    const f = await checkKernelFeatures((await installedKernel()).modulesDir);
    expect(f.provided).toEqual({ squashfs: 'module', overlay: 'module', vfat: 'module', fat: 'module', loop: 'module' });
  });

  it('names squashfs when a kernel has neither module nor config for it', async () => {
    const dir = await makeModulesDir('6.1.0-nosq', { dep: without('kernel/fs/squashfs/squashfs.ko') });
    const err = await checkKernelFeatures(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).message).toMatch(/lacks squashfs \(CONFIG_SQUASHFS/);
    expect((err as KernelError).message).not.toMatch(/overlay/);
    expect((err as KernelError).hint).toMatch(/CONFIG_SQUASHFS=y or =m/);
  });

  it('counts modules.builtin as present', async () => {
    const dir = await makeModulesDir('6.1.0-sqbuiltin', {
      dep: without('kernel/fs/squashfs/squashfs.ko'),
      builtin: ['kernel/fs/squashfs/squashfs.ko'],
    });
    expect((await checkKernelFeatures(dir)).provided.squashfs).toBe('builtin');
  });

  it('counts CONFIG_X=y in /boot/config-<version> under the same root as present', async () => {
    const dir = await makeModulesDir('6.1.0-sqconfig', {
      dep: without('kernel/drivers/block/loop.ko'),
      config: '# CONFIG_SQUASHFS is not set\nCONFIG_BLK_DEV_LOOP=y\n',
    });
    expect((await checkKernelFeatures(dir)).provided.loop).toBe('builtin');
  });

  it('does not take CONFIG_X=m as built in', async () => {
    const dir = await makeModulesDir('6.1.0-loopm', { dep: without('kernel/drivers/block/loop.ko'), config: 'CONFIG_BLK_DEV_LOOP=m\n' });
    await expect(checkKernelFeatures(dir)).rejects.toThrow(/lacks loop/);
  });

  it('reports a missing modules directory as KernelError with a hint', async () => {
    const err = await checkKernelFeatures('/lib/modules/0.0.0-none').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).message).toMatch(/modules\.dep/);
    expect((err as KernelError).hint).toMatch(/depmod|linux-image/);
  });
});
