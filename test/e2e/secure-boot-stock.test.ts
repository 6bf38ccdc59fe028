/**
 * A PC as it ships: UEFI with Secure Boot enforced and only Microsoft's keys (Debian's OVMF
 * "ms" build), nothing enrolled. The default stick boots through Microsoft-signed shim, Debian's
 * grub and Debian's kernel; altering the kernel or the loader on the stick gets it refused.
 */
import { copyFile, mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SIGNED_GRUB, signedFile } from '../../src/boot/signed-packages.js';
import { bootImage, OVMF_MS_CODE, OVMF_MS_VARS, type BootOptions } from '../../src/qemu/boot.js';
import { DEMO_MARKER } from '../../src/root/demo-root.js';
import type { BuildResult } from '../../src/pipeline/build.js';
import { buildDemo } from '../helpers/demo.js';

let dir: string;
let built: BuildResult;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-sb-stock-'));
  built = await buildDemo();
});

async function stockPc(image: string, o: Pick<BootOptions, 'expect' | 'failOn'> & Partial<Pick<BootOptions, 'timeoutSec'>>) {
  const vars = join(dir, `vars-${Math.random().toString(16).slice(2)}.fd`);
  await copyFile(OVMF_MS_VARS, vars);
  return bootImage({ image, timeoutSec: 240, graceMs: 500, secureBoot: { code: OVMF_MS_CODE, vars }, ...o });
}

/** A copy of the image with one byte flipped in the middle of the file whose bytes are `file`. */
async function tampered(image: string, file: Buffer, name: string): Promise<string> {
  const copy = join(dir, `${name}.img`);
  await copyFile(image, copy);
  const probe = file.subarray(file.length >> 1, (file.length >> 1) + 64);
  const data = await readFile(copy);
  const at = data.indexOf(probe);
  if (at < 0 || data.indexOf(probe, at + 1) >= 0) throw new Error(`the ${name} bytes are not on the image exactly once`);
  const fh = await open(copy, 'r+');
  await fh.write(Buffer.from([(data[at] ?? 0) ^ 0xff]), 0, 1, at);
  await fh.close();
  return copy;
}

describe('Secure Boot with stock keys (shim route)', () => {
  it('the default stick reaches the root init with Secure Boot enforced, nothing enrolled', async () => {
    const r = await stockPc(built.image, { expect: DEMO_MARKER, failOn: ['Security Violation', 'bad shim signature', 'Kernel panic', 'flashroot: FAIL'] });
    const text = r.console.join('\n');
    expect(r.matched, text).toBe(true);
    expect(text).toContain('secureboot: Secure boot enabled');
    const plain = await bootImage({ image: built.image, uefi: true, expect: DEMO_MARKER, timeoutSec: 240, graceMs: 500 });
    expect(plain.matched, plain.console.join('\n')).toBe(true);
    expect(plain.console.join('\n')).not.toContain('Secure boot enabled');
    process.stdout.write(`root init: Secure Boot (stock keys) ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s, without ${((plain.msToExpect ?? 0) / 1000).toFixed(1)} s\n`);
  });

  it('refuses a stick whose kernel was altered', async () => {
    const image = await tampered(built.image, await readFile(built.kernel.image), 'kernel');
    const r = await stockPc(image, { expect: 'bad shim signature', failOn: [DEMO_MARKER, 'Run /init'] });
    expect(r.matched, r.console.join('\n')).toBe(true);
  });

  it('refuses a stick whose loader was altered', async () => {
    const image = await tampered(built.image, await readFile(await signedFile(SIGNED_GRUB)), 'grub');
    // Shim draws its refusal in a dialog box with no newline, so it is read when QEMU is stopped.
    const r = await stockPc(image, { timeoutSec: 60, failOn: [DEMO_MARKER, 'Run /init'] });
    const text = r.console.join('\n');
    expect(text).toMatch(/Verification failed: \(0x1A\) Se/);
    expect(text).not.toContain(DEMO_MARKER);
  });
});
