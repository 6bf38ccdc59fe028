import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { compareKernelVersions, findNewestKernel, kernelVersionFromImage } from '../../../src/kernel/version.js';
import { fakeBzImage } from './fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-kver-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kernelVersionFromImage', () => {
  it('reads the installed Debian kernel', async () => {
    // Debian names the file after the release its image carries.
    const { image, version } = await findNewestKernel();
    expect(await kernelVersionFromImage(image)).toBe(version);
  });

  it('follows the kernel_version pointer (relative to 0x200)', async () => {
    const p = join(dir, 'vmlinuz-test');
    await writeFile(p, fakeBzImage('5.10.0-99-custom', 0x1234));
    expect(await kernelVersionFromImage(p)).toBe('5.10.0-99-custom');
  });

  it('rejects a file without the HdrS header as InputError', async () => {
    const p = join(dir, 'not-a-kernel');
    await writeFile(p, Buffer.alloc(4096, 0x41));
    await expect(kernelVersionFromImage(p)).rejects.toThrow(/HdrS/);
    await expect(kernelVersionFromImage(p)).rejects.toBeInstanceOf(InputError);
  });

  it('rejects a missing file with a hint', async () => {
    const err = await kernelVersionFromImage(join(dir, 'nope')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).hint).toBeTruthy();
  });
});

describe('compareKernelVersions', () => {
  it('compares numeric runs as numbers', () => {
    const sorted = ['6.1.0-9-amd64', '6.10.0-1-amd64', '6.1.0-10-amd64', '5.19.0-1-amd64', '6.1.0-10-rt-amd64'].sort(compareKernelVersions);
    expect(sorted).toEqual(['5.19.0-1-amd64', '6.1.0-9-amd64', '6.1.0-10-amd64', '6.1.0-10-rt-amd64', '6.10.0-1-amd64']);
  });
});

describe('findNewestKernel', () => {
  it('picks the highest version, not the last in text order', async () => {
    const boot = await mkdtemp(join(dir, 'boot-'));
    for (const v of ['6.1.0-9-amd64', '6.1.0-10-amd64', '6.1.0-2-amd64']) await writeFile(join(boot, `vmlinuz-${v}`), '');
    await writeFile(join(boot, 'config-6.1.0-99-amd64'), '');
    expect(await findNewestKernel(boot)).toEqual({ image: join(boot, 'vmlinuz-6.1.0-10-amd64'), version: '6.1.0-10-amd64' });
  });

  it('says what to do when there is no kernel', async () => {
    const empty = await mkdtemp(join(dir, 'empty-'));
    await expect(findNewestKernel(empty)).rejects.toThrow(/No vmlinuz/);
  });

  it('finds the installed kernel in /boot', async () => {
    const k = await findNewestKernel();
    expect(await kernelVersionFromImage(k.image)).toBe(k.version);
  });
});
