/**
 * The modules layer, staged from a small module tree made of the installed kernel's real fat and
 * vfat modules (found at run time), one of them compressed as 6.12 kernels ship them.
 */
import { access, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModulesLayer, modulesLayerKey, planModulesLayer, stageModulesLayer } from '../../../src/kernel/modules-layer.js';
import { findNewestKernel } from '../../../src/kernel/version.js';
import { run } from '../../../src/util/run.js';
import { makeModulesDir, removeModulesDirs } from './fixtures.js';
import { addFakeKernel } from './fake-kernel.js';

const VERSION = '6.1.0-fixture-layer';
let work: string;
let modulesDir: string;
let vfat: Buffer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-layer-'));
  const installed = `/lib/modules/${(await findNewestKernel()).version}/kernel/fs/fat`;
  vfat = await readFile(`${installed}/vfat.ko`);
  await writeFile(join(work, 'vfat.ko'), vfat);
  await run('xz', ['--check=crc32', '-q', join(work, 'vfat.ko')]);
  modulesDir = await makeModulesDir(VERSION, {
    dep: { 'kernel/fs/fat/fat.ko': [], 'kernel/fs/fat/vfat.ko.xz': ['kernel/fs/fat/fat.ko'] },
    content: { 'kernel/fs/fat/fat.ko': await readFile(`${installed}/fat.ko`), 'kernel/fs/fat/vfat.ko.xz': await readFile(join(work, 'vfat.ko.xz')) },
  });
});
afterAll(async () => {
  await removeModulesDirs();
  await rm(work, { recursive: true, force: true });
});

describe('planModulesLayer', () => {
  it('needs no layer for a root that has the modules, with their modules.dep', async () => {
    const root = join(work, 'installed');
    await addFakeKernel(root, VERSION);
    await writeFile(join(root, 'lib/modules', VERSION, 'modules.dep'), '');
    expect(await planModulesLayer(root, VERSION)).toBeUndefined();
  });

  it('puts the layer at /lib/modules/V in a root without /lib, and where /lib leads on a usrmerge root', async () => {
    expect(await planModulesLayer(join(work, 'empty'), VERSION)).toEqual({ dest: `/lib/modules/${VERSION}` });
    const usrmerge = join(work, 'usrmerge');
    await addFakeKernel(usrmerge, 'other', 'usr/lib/modules');
    await symlink('/usr/lib', join(usrmerge, 'lib'));
    expect(await planModulesLayer(usrmerge, VERSION)).toEqual({ dest: `/usr/lib/modules/${VERSION}` });
  });
});

describe('stageModulesLayer', () => {
  it('stages every module decompressed and indexed for both modprobes, at the planned place', async () => {
    const stage = join(work, 'stage');
    const r = await stageModulesLayer(modulesDir, VERSION, { dest: `/usr/lib/modules/${VERSION}` }, stage);
    const dir = join(stage, 'usr/lib/modules', VERSION);
    expect(r.modules).toBe(2);
    expect(await readFile(join(dir, 'kernel/fs/fat/vfat.ko'))).toEqual(vfat);
    // busybox modprobe reads the text index, kmod's the binary one: both must name the plain files.
    expect(await readFile(join(dir, 'modules.dep'), 'utf8')).toContain('kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko');
    await access(join(dir, 'modules.dep.bin'));
    await expect(access(join(stage, 'lib'))).rejects.toThrow();
    await expect(access(`${stage}.depmod`)).rejects.toThrow();
  });
});

describe('the modules layer cache', () => {
  const plan = { dest: `/lib/modules/${VERSION}` };
  const sq = { compressor: 'zstd', epoch: 315532800 } as const;

  it('gives the same layer again without making it, and a new one when the modules change', async () => {
    const cache = join(work, 'cache');
    const first = await mkdtemp(join(work, 'build-'));
    const made = await buildModulesLayer(modulesDir, VERSION, plan, first, sq, cache);
    expect(await readdir(cache)).toHaveLength(2);
    const again = await mkdtemp(join(work, 'build-'));
    const reused = await buildModulesLayer(modulesDir, VERSION, plan, again, sq, cache);
    expect(reused).toEqual({ ...made, file: join(again, 'modules.sqfs') });
    expect(await readFile(reused.file)).toEqual(await readFile(made.file));
    // Taken from the cache, not made: no stage was ever created in this work directory.
    expect(await readdir(again)).toEqual(['modules.sqfs']);

    const key = await modulesLayerKey(modulesDir, VERSION, plan, sq);
    expect(await modulesLayerKey(modulesDir, VERSION, plan, { ...sq, epoch: 315532801 })).not.toBe(key);
    expect(await modulesLayerKey(modulesDir, VERSION, { dest: `/usr/lib/modules/${VERSION}` }, sq)).not.toBe(key);
    const dep = join(modulesDir, 'modules.dep');
    const t = (await stat(dep)).mtime;
    await utimes(dep, t, new Date(t.getTime() + 5000));
    expect(await modulesLayerKey(modulesDir, VERSION, plan, sq)).not.toBe(key);
  });

  it('still builds when the cache cannot be written', async () => {
    const blocked = join(work, 'not-a-dir');
    await writeFile(blocked, '');
    const built = await buildModulesLayer(modulesDir, VERSION, plan, await mkdtemp(join(work, 'build-')), sq, join(blocked, 'cache'));
    expect(built.modules).toBe(2);
  });
});
