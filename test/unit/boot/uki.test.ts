import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelError, UsageError } from '../../../src/errors.js';
import { findNewestKernel } from '../../../src/kernel/version.js';
import { parsePe, sectionData } from '../../../src/boot/pe.js';
import { buildUki, normaliseCmdline, osRelease, UKI_STUB, type UkiParts } from '../../../src/boot/uki.js';

let parts: UkiParts;
beforeAll(async () => {
  const kernel = await findNewestKernel();
  parts = {
    stub: await readFile(UKI_STUB.path),
    kernel: await readFile(kernel.image),
    initrd: Buffer.from('070701 not really a cpio, the stub does not look inside'),
    cmdline: 'console=ttyS0 flashroot.debug\n',
    osRelease: osRelease('flashroot test', kernel.version),
    uname: kernel.version,
  };
});

describe('buildUki', () => {
  it('appends .osrel .cmdline .uname .initrd and .linux last, after the stub', () => {
    const uki = buildUki(parts);
    const names = parsePe(uki).sections.map((s) => s.name);
    expect(names.slice(-5)).toEqual(['.osrel', '.cmdline', '.uname', '.initrd', '.linux']);
    expect(names.slice(0, -5)).toEqual(parsePe(parts.stub).sections.map((s) => s.name));
    expect(sectionData(uki, '.linux')?.equals(parts.kernel)).toBe(true);
    expect(sectionData(uki, '.initrd')?.equals(parts.initrd)).toBe(true);
    expect(sectionData(uki, '.uname')?.toString()).toBe(parts.uname);
    expect(sectionData(uki, '.osrel')?.toString()).toMatch(/^PRETTY_NAME="flashroot test"$/m);
  });

  it('embeds the command line without a trailing newline', () => {
    expect(sectionData(buildUki(parts), '.cmdline')?.toString('latin1')).toBe('console=ttyS0 flashroot.debug');
  });

  it('is reproducible: the same inputs give the same bytes', () => {
    const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(hash(buildUki(parts))).toBe(hash(buildUki({ ...parts, stub: Buffer.from(parts.stub) })));
    expect(hash(buildUki(parts))).not.toBe(hash(buildUki({ ...parts, cmdline: 'console=ttyS1' })));
  });

  it('refuses a kernel that is not a bzImage', () => {
    expect(() => buildUki({ ...parts, kernel: parts.stub })).toThrow(KernelError);
  });
});

describe('normaliseCmdline', () => {
  it('trims surrounding space and refuses line breaks and non-ASCII', () => {
    expect(normaliseCmdline('  quiet root=/dev/sda1 \n')).toBe('quiet root=/dev/sda1');
    expect(() => normaliseCmdline('quiet\nsplash')).toThrow(UsageError);
    expect(() => normaliseCmdline('label=clé')).toThrow(UsageError);
  });
});

describe('osRelease', () => {
  it('has the name and version systemd-boot needs to list the UKI', () => {
    const text = osRelease('My "stick"', '6.1.0-56-amd64');
    expect(text).toMatch(/^PRETTY_NAME="My \\"stick\\""$/m);
    expect(text).toMatch(/^VERSION_ID=6\.1\.0-56-amd64$/m);
    expect(text).toMatch(/^NAME=/m);
  });
});
