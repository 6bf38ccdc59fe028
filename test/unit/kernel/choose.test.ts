import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseKernel, type HostKernelDirs } from '../../../src/kernel/choose.js';
import { addFakeKernel } from './fake-kernel.js';

let dir: string;
let host: HostKernelDirs;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-choose-'));
  await addFakeKernel(join(dir, 'host'), '6.1.0-77-hostfake');
  host = { boot: join(dir, 'host/boot'), modules: join(dir, 'host/lib/modules') };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function root(name: string): Promise<string> {
  const r = join(dir, name);
  await mkdir(r, { recursive: true });
  return r;
}

describe('chooseKernel', () => {
  it("takes the root's own newest kernel that has modules, not the host's", async () => {
    const r = await root('installed');
    await addFakeKernel(r, '6.1.0-50-amd64');
    await addFakeKernel(r, '6.1.0-9-amd64');
    await addFakeKernel(r, '6.1.0-60-amd64', false);
    const k = await chooseKernel({ root: r }, host);
    expect(k).toEqual({ image: join(r, 'boot/vmlinuz-6.1.0-50-amd64'), version: '6.1.0-50-amd64', modulesDir: join(r, 'lib/modules/6.1.0-50-amd64'), why: "the root's own kernel, newest of 3" });
  });

  it('follows a usrmerge root whose /lib is a symlink to usr/lib', async () => {
    const r = await root('usrmerge');
    await addFakeKernel(r, '6.12.9-amd64', 'usr/lib/modules');
    await symlink('usr/lib', join(r, 'lib'));
    expect((await chooseKernel({ root: r }, host)).modulesDir).toBe(join(r, 'usr/lib/modules/6.12.9-amd64'));
  });

  it("falls back to the host's newest kernel for a root without one, and says why", async () => {
    const k = await chooseKernel({ root: await root('container') }, host);
    expect(k.image).toBe(join(host.boot, 'vmlinuz-6.1.0-77-hostfake'));
    expect(k.modulesDir).toBe(join(host.modules, '6.1.0-77-hostfake'));
    expect(k.why).toMatch(/^the build host's newest: the root has no kernel of its own/);
  });

  it("falls back when the root's kernels have no modules, naming them", async () => {
    const r = await root('no-modules');
    await addFakeKernel(r, '6.1.0-42-amd64', false);
    expect((await chooseKernel({ root: r }, host)).why).toMatch(/kernels \(6\.1\.0-42-amd64\) have no modules/);
  });

  it('uses the host for the demo root', async () => {
    expect((await chooseKernel({}, host)).why).toBe("the build host's newest: the demo root has no kernel");
  });

  it('finds the modules of a --kernel inside a root in the same root', async () => {
    const r = await root('explicit');
    await addFakeKernel(r, '6.1.0-50-amd64');
    const k = await chooseKernel({ kernel: join(r, 'boot/vmlinuz-6.1.0-50-amd64') }, host);
    expect(k.modulesDir).toBe(join(r, 'lib/modules/6.1.0-50-amd64'));
    expect(k.why).toBe('--kernel, with the modules beside it');
  });

  it("gives a --kernel outside any tree the host's modules, and --modules wins over both", async () => {
    const r = await root('loose');
    await addFakeKernel(r, '6.1.0-51-amd64', false);
    const image = join(r, 'boot/vmlinuz-6.1.0-51-amd64');
    expect((await chooseKernel({ kernel: image }, host)).modulesDir).toBe(join(host.modules, '6.1.0-51-amd64'));
    expect((await chooseKernel({ kernel: image, modules: '/x/mods' }, host)).modulesDir).toBe('/x/mods');
  });
});

describe('chooseKernel in a root with absolute symlinks', () => {
  it("resolves /lib -> /usr/lib inside the root, never the host's /usr/lib", async () => {
    const r = await root('absolute-links');
    await addFakeKernel(r, '6.12.9-amd64', 'usr/lib/modules');
    await symlink('/usr/lib', join(r, 'lib'));
    expect((await chooseKernel({ root: r }, host)).modulesDir).toBe(join(r, 'usr/lib/modules/6.12.9-amd64'));
  });
});
