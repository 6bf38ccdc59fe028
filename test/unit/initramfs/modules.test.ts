import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelError } from '../../../src/errors.js';
import { fnmatch } from '../../../src/initramfs/modules-db.js';
import { resolveModules, type ResolvedModules } from '../../../src/initramfs/modules.js';
import { stageModules } from '../../../src/initramfs/modules-stage.js';
import { run } from '../../../src/util/run.js';
import { installedKernel } from '../../helpers/kernels.js';
import { makeModulesDir, removeModulesDirs } from '../kernel/fixtures.js';

const INSTALLED = await installedKernel();
const MODULES_DIR = INSTALLED.modulesDir;
const nameOf = (path: string) => (path.split('/').pop() ?? '').replace(/\.ko.*$/, '').replaceAll('-', '_');

/** modules.dep text -> name -> dependency names; parsed here independently of the code under test. */
function parseDep(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n').filter(Boolean)) {
    const [path = '', deps = ''] = line.split(':');
    out.set(nameOf(path), deps.trim().split(/\s+/).filter(Boolean).map(nameOf));
  }
  return out;
}

afterAll(removeModulesDirs);

describe('resolveModules on the installed kernel (storage + fs)', () => {
  let r: ResolvedModules;
  let realDeps: Map<string, string[]>;
  beforeAll(async () => {
    r = await resolveModules(MODULES_DIR, { groups: ['storage', 'fs'] });
    realDeps = parseDep(await readFile(join(MODULES_DIR, 'modules.dep'), 'utf8'));
  });

  it('pulls in the dependencies that make each module loadable', () => {
    const names = new Set(r.loadOrder);
    for (const n of ['usb_storage', 'usb_common', 'usbcore', 'scsi_mod', 'sd_mod', 'vfat', 'fat', 'overlay', 'squashfs', 'loop', 'nls_iso8859_1']) {
      expect(names, n).toContain(n);
    }
    expect(r.kernelVersion).toBe(INSTALLED.version);
    expect(r.missing).toEqual([]);
  });

  it('includes every dependency of every included module, per the real modules.dep', () => {
    const names = new Set(r.loadOrder);
    for (const n of names) for (const d of realDeps.get(n) ?? []) expect(names, `${n} needs ${d}`).toContain(d);
  });

  it('orders each module after its dependencies and pre-softdeps', () => {
    const at = (n: string) => r.loadOrder.indexOf(n);
    for (const n of r.loadOrder) for (const d of realDeps.get(n) ?? []) expect(at(d), `${d} before ${n}`).toBeLessThan(at(n));
    // modules.softdep: "ohci_pci pre: ehci_pci", "crc_t10dif pre: crct10dif" (an alias of crct10dif_generic).
    expect(at('ehci_pci')).toBeLessThan(at('ohci_pci'));
    expect(at('crct10dif_generic')).toBeGreaterThanOrEqual(0);
    expect(at('crct10dif_generic')).toBeLessThan(at('crc_t10dif'));
  });

  it('emits a modules.dep with exactly the included modules and paths relative to the version dir', () => {
    const emitted = parseDep(r.moduleDb['modules.dep']);
    expect(new Set(emitted.keys())).toEqual(new Set(r.loadOrder));
    for (const [n, deps] of emitted) expect(deps, n).toEqual(realDeps.get(n));
    const paths = r.moduleDb['modules.dep'].split('\n').filter(Boolean).map((l) => l.split(':')[0]);
    expect(new Set(r.files.map((f) => f.dest))).toEqual(new Set(paths.map((p) => `lib/modules/${INSTALLED.version}/${p}`)));
  });

  it('emits alias and softdep lines only for included modules', () => {
    const aliasLines = r.moduleDb['modules.alias'].split('\n').filter(Boolean);
    expect(aliasLines.length).toBeGreaterThan(100);
    for (const l of aliasLines) expect(r.loadOrder).toContain(nameOf(l.split(/\s+/)[2] ?? ''));
    expect(r.moduleDb['modules.alias']).toMatch(/^alias fs-vfat vfat$/m);
    expect(r.moduleDb['modules.softdep']).toMatch(/^softdep ohci_pci pre: ehci_pci$/m);
    expect(r.moduleDb['modules.softdep']).not.toMatch(/ext4/);
  });

  it('stays near the design budget (~45 modules, ~6 MB uncompressed)', () => {
    expect(r.files.length).toBeGreaterThan(30);
    expect(r.files.length).toBeLessThan(70);
    expect(r.totalBytes).toBeLessThan(10_000_000);
  });
});

describe('resolveModules requests', () => {
  it('reports unknown names in optional requests instead of failing', async () => {
    const r = await resolveModules(MODULES_DIR, { names: ['usb-storage', 'no_such_module'] });
    expect(r.missing).toEqual(['no_such_module']);
    expect(r.loadOrder).toContain('usb_storage');
  });

  it('resolves aliases the way modprobe does (fs-vfat, a USB mass-storage modalias)', async () => {
    const r = await resolveModules(MODULES_DIR, { aliases: ['fs-vfat', 'usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00'] });
    expect(r.loadOrder).toEqual(expect.arrayContaining(['fat', 'vfat', 'usb_storage', 'uas']));
  });

  it('satisfies built-in modules without files (atkbd and af_packet are built into Debian 6.1)', async () => {
    const r = await resolveModules(MODULES_DIR, { groups: ['input', 'network', 'nic'] });
    expect(r.builtin).toEqual(expect.arrayContaining(['atkbd', 'af_packet']));
    expect(r.files.some((f) => /atkbd|af_packet/.test(f.dest))).toBe(false);
    expect(r.loadOrder).toEqual(expect.arrayContaining(['fuse', 'virtio_net', 'net_failover', 'failover', 'usbhid', 'hid_generic']));
  });
});

describe('resolveModules on fixture kernels', () => {
  const FS = {
    'kernel/fs/fat/fat.ko': [],
    'kernel/fs/fat/vfat.ko': ['kernel/fs/fat/fat.ko'],
    'kernel/fs/nls/nls_cp437.ko': [],
    'kernel/fs/nls/nls_ascii.ko': [],
    'kernel/fs/nls/nls_utf8.ko': [],
    'kernel/fs/nls/nls_iso8859-1.ko': [],
    'kernel/drivers/block/loop.ko': [],
  };

  it('accepts fs modules that are built in, and carries no file for them', async () => {
    const dir = await makeModulesDir('9.9.9-builtin', {
      dep: FS,
      builtin: ['kernel/fs/squashfs/squashfs.ko', 'kernel/fs/overlayfs/overlay.ko'],
    });
    const r = await resolveModules(dir, { groups: ['fs'] });
    expect(r.builtin.sort()).toEqual(['overlay', 'squashfs']);
    expect(r.files.map((f) => nameOf(f.dest)).sort()).toEqual(['fat', 'loop', 'nls_ascii', 'nls_cp437', 'nls_iso8859_1', 'nls_utf8', 'vfat']);
    expect(r.moduleDb['modules.builtin']).toContain('kernel/fs/squashfs/squashfs.ko');
  });

  it('fails naming squashfs when the fs group cannot be satisfied', async () => {
    const dir = await makeModulesDir('9.9.9-nosquash', { dep: { ...FS, 'kernel/fs/overlayfs/overlay.ko': [] } });
    const err = await resolveModules(dir, { groups: ['fs'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).message).toMatch(/has no squashfs:/);
    expect((err as KernelError).hint).toBeTruthy();
  });

  it('orders pre- and post-softdeps around their module and survives softdep cycles', async () => {
    const dir = await makeModulesDir('9.9.9-soft', {
      dep: { 'kernel/a.ko': ['kernel/base.ko'], 'kernel/base.ko': [], 'kernel/pre.ko': [], 'kernel/post.ko': [] },
      softdep: ['softdep a pre: pre-alias post: post', 'softdep post pre: a'],
      alias: ['alias pre-* pre'],
    });
    const r = await resolveModules(dir, { names: ['a'] });
    expect(r.loadOrder).toEqual(['pre', 'base', 'a', 'post']);
  });

  it('resolves an alias of a built-in module from modules.builtin.modinfo', async () => {
    const dir = await makeModulesDir('9.9.9-modinfo', { dep: {}, builtin: ['kernel/fs/fat/vfat.ko'] });
    await writeFile(join(dir, 'modules.builtin.modinfo'), 'vfat.license=GPL\0vfat.alias=fs-vfat\0');
    const r = await resolveModules(dir, { aliases: ['fs-vfat'] });
    expect(r).toMatchObject({ builtin: ['vfat'], missing: [], files: [] });
  });

  it('says how to run depmod for an unpacked kernel package without modules.dep', async () => {
    const dir = await makeModulesDir('9.9.9-nodep', { dep: {} });
    await rm(join(dir, 'modules.dep'));
    const err = await resolveModules(`${dir}/`, { names: ['x'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).hint).toContain(`depmod -b ${dir.replace(/\/lib\/modules\/.*$/, '')} 9.9.9-nodep`);
  });

  it('reports a module named in modules.dep whose file is gone', async () => {
    const dir = await makeModulesDir('9.9.9-gone', { dep: { 'kernel/x.ko': [] } });
    await rm(join(dir, 'kernel/x.ko'));
    await expect(resolveModules(dir, { names: ['x'] })).rejects.toThrow(/modules\.dep names kernel\/x\.ko, but .* is not a file/);
  });
});

describe('fnmatch', () => {
  it.each([
    ['pci:v00008086d*sv*sd*bc01sc06i01*', 'pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01', true],
    ['pci:v00008086d*sv*sd*bc01sc06i01*', 'pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i02', false],
    ['usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*', 'usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00', true],
    ['usb:v0BC2p[23]*', 'usb:v0BC2p3300', true],
    ['usb:v0BC2p[!23]*', 'usb:v0BC2p3300', false],
    ['usb:v0BC2pA0[0-9]d*', 'usb:v0BC2pA05d0100', true],
    ['fs-vfat', 'fs-vfat', true],
    ['fs-vfat', 'fs-vfat2', false],
    ['a?c', 'abc', true],
  ])('%s vs %s -> %s', (pattern, text, want) => {
    expect(fnmatch(pattern, text)).toBe(want);
  });
});

describe('busybox modprobe reads the emitted database', () => {
  const asRoot = process.getuid?.() === 0;
  it.skipIf(!asRoot)('resolves names, fs- aliases and USB modaliases to the staged files (modprobe -D in a chroot)', async () => {
    const r = await resolveModules(MODULES_DIR, { groups: ['storage', 'fs'] });
    const root = await mkdtemp(join(tmpdir(), 'flashroot-bbmod-'));
    try {
      await stageModules(r, root);
      await mkdir(join(root, 'bin'));
      await cp('/usr/bin/busybox', join(root, 'bin', 'busybox'));
      // busybox modprobe looks in /lib/modules/$(uname -r): point the running kernel's name at ours.
      if (release() !== INSTALLED.version) await symlink(INSTALLED.version, join(root, 'lib', 'modules', release()));
      const probe = async (word: string) => {
        const out = await run('chroot', [root, '/bin/busybox', 'modprobe', '-D', word]);
        return out.stdout.split('\n').filter(Boolean).map((l) => nameOf(l.trim().split(' ')[1] ?? ''));
      };
      expect(await probe('usb-storage')).toEqual(['usb_common', 'usbcore', 'scsi_common', 'scsi_mod', 'usb_storage']);
      expect(await probe('fs-vfat')).toEqual(['fat', 'vfat']);
      expect(await probe('usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00')).toEqual(expect.arrayContaining(['usb_storage', 'uas']));
      await expect(probe('e1000')).rejects.toThrow(/not found in modules.dep/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
