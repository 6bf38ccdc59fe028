import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { sectionData } from '../../../src/boot/pe.js';
import { defaultMenu, loaderConf, readBootBlobs, systemdBootFiles, type SystemdBootInputs } from '../../../src/boot/systemd-boot.js';
import { findNewestKernel } from '../../../src/kernel/version.js';
import { UsageError } from '../../../src/errors.js';

let inputs: SystemdBootInputs;
beforeAll(async () => {
  const kernel = await findNewestKernel();
  inputs = { ...(await readBootBlobs()), kernel: await readFile(kernel.image), initrd: Buffer.from('initrd'), uname: kernel.version, cmdline: 'console=ttyS0' };
});

describe('systemdBootFiles', () => {
  it('lays out the loader, one UKI per menu entry and loader.conf, and no random-seed', () => {
    const files = systemdBootFiles(inputs);
    expect(files.map((f) => f.path)).toEqual(['/EFI/BOOT/BOOTX64.EFI', '/EFI/Linux/flashroot.efi', '/EFI/Linux/flashroot-rescue.efi', '/loader/loader.conf']);
    expect(files[0]?.data.equals(inputs.loader)).toBe(true);
    expect(files.some((f) => f.path.includes('random-seed'))).toBe(false);
    expect(files.at(-1)?.data.toString()).toBe('default flashroot.efi\ntimeout 5\n');
  });

  it('is reproducible', () => {
    const [a, b] = [systemdBootFiles(inputs), systemdBootFiles(inputs)];
    expect(a.every((f, i) => f.path === b[i]?.path && f.data.equals(b[i].data))).toBe(true);
  });

  it('gives the rescue entry its extra command line and its own title', () => {
    const [, normal, rescue] = systemdBootFiles(inputs);
    expect(sectionData(normal?.data ?? Buffer.alloc(0), '.cmdline')?.toString()).toBe('console=ttyS0');
    expect(sectionData(rescue?.data ?? Buffer.alloc(0), '.cmdline')?.toString()).toBe('console=ttyS0 flashroot.break=premount flashroot.shell');
    expect(sectionData(rescue?.data ?? Buffer.alloc(0), '.osrel')?.toString()).toMatch(/^PRETTY_NAME="flashroot \(rescue shell\)"$/m);
  });

  it('takes the menu, titles and timeout as parameters', () => {
    const files = systemdBootFiles({ ...inputs, entries: defaultMenu('Demo', 'single'), timeoutSec: 0 });
    const rescue = files.find((f) => f.path === '/EFI/Linux/flashroot-rescue.efi');
    expect(sectionData(rescue?.data ?? Buffer.alloc(0), '.cmdline')?.toString()).toBe('console=ttyS0 single');
    expect(files.at(-1)?.data.toString()).toBe('default flashroot.efi\ntimeout 0\n');
  });

  it('reports every invalid entry at once', () => {
    const bad = [
      { id: 'Upper', title: 'x', extraCmdline: '' },
      { id: 'auto-x', title: ' ', extraCmdline: '' },
    ];
    expect(() => systemdBootFiles({ ...inputs, entries: bad })).toThrow(/entries\[0\]\.id[\s\S]*entries\[1\]\.id[\s\S]*entries\[1\]\.title/);
    expect(() => systemdBootFiles({ ...inputs, entries: [] })).toThrow(UsageError);
    expect(() => loaderConf('a.efi', 1.5)).toThrow(UsageError);
  });
});
