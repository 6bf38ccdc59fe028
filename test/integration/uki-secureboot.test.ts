/**
 * The whole UEFI side under Secure Boot: Debian's OVMF with the "snakeoil" key enrolled in PK, KEK
 * and db (its private key ships in the ovmf package for exactly this), systemd-boot and our UKIs
 * signed with it. A UKI signed by another key must be refused.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, signEfi, signEspFiles, type SigningKey } from '../../src/boot/sign.js';
import { defaultMenu, readBootBlobs, systemdBootFiles, type EspFile } from '../../src/boot/systemd-boot.js';
import { bootImage, OVMF_SECBOOT_CODE, OVMF_SNAKEOIL_VARS, type BootOptions } from '../../src/qemu/boot.js';
import { run } from '../../src/util/run.js';
import { formatMs } from '../../src/util/log.js';
import { cmdlineSeen, espStick, MARKER, testKernel, type TestKernel } from './uki-fixtures.js';

const SNAKEOIL_KEY = '/usr/share/ovmf/PkKek-1-snakeoil.key';
const SNAKEOIL_CERT = '/usr/share/ovmf/PkKek-1-snakeoil.pem';

let dir: string;
let snakeoil: SigningKey;
let k: TestKernel;
let files: EspFile[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-uki-sb-'));
  // The shipped key is encrypted (password "snakeoil"); sbsign would prompt for it.
  const key = join(dir, 'snakeoil.key');
  await run('openssl', ['pkey', '-in', SNAKEOIL_KEY, '-passin', 'pass:snakeoil', '-out', key]);
  snakeoil = { key, cert: SNAKEOIL_CERT };
  k = await testKernel();
  files = systemdBootFiles({ ...(await readBootBlobs()), ...k, cmdline: 'console=ttyS0', entries: defaultMenu('flashroot test'), timeoutSec: 1 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Firmware with Secure Boot enforced: SMM on q35, the secure pflash, a private copy of the vars. */
async function secureBoot(name: string, stickFiles: readonly EspFile[], o: Pick<BootOptions, 'expect' | 'failOn'>) {
  const vars = join(dir, `${name}.vars.fd`);
  await copyFile(OVMF_SNAKEOIL_VARS, vars);
  const stickDir = await mkdtemp(join(dir, `${name}-`));
  const image = await espStick(stickDir, stickFiles);
  return bootImage({
    image,
    timeoutSec: 150,
    graceMs: 500,
    ...o,
    secureBoot: { code: OVMF_SECBOOT_CODE, vars },
  });
}

describe('Secure Boot', () => {
  it('boots signed systemd-boot, shows both entries and starts the default UKI', async () => {
    const signed = await signEspFiles(files, snakeoil);
    const r = await secureBoot('signed', signed, { expect: MARKER, failOn: ['Access Denied', 'Security Violation', 'Kernel panic'] });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toMatch(/secureboot: Secure boot enabled/);
    // The menu, normal entry first: systemd-boot draws it on one console line.
    expect(text).toMatch(/flashroot test(?! \().*flashroot test \(rescue shell\)/);
    expect(cmdlineSeen(r.console)).toBe('console=ttyS0');
    console.log(`Secure Boot (OVMF, SMM, no KVM) to marker: ${formatMs(r.msToExpect ?? 0)}`);
  });

  it('boots the rescue UKI with its own command line when it is the default', async () => {
    const [normal, rescue] = defaultMenu('flashroot test');
    if (!normal || !rescue) throw new Error('defaultMenu() lost an entry');
    const rescueFirst = systemdBootFiles({ ...(await readBootBlobs()), ...k, cmdline: 'console=ttyS0', entries: [rescue, normal], timeoutSec: 0 });
    const r = await secureBoot('rescue', await signEspFiles(rescueFirst, snakeoil), { expect: MARKER, failOn: ['Access Denied', 'Kernel panic'] });
    expect(r.matched, r.console.join('\n')).toBe(true);
    expect(cmdlineSeen(r.console)).toBe('console=ttyS0 flashroot.break=premount flashroot.shell');
  });

  it('refuses a UKI signed with a key the firmware does not trust', async () => {
    const otherDir = await mkdtemp(join(dir, 'other-key-'));
    const other = await generateSigningKey(otherDir, 'not enrolled');
    const mixed = await Promise.all(
      files.map(async (f) => {
        if (f.path === '/EFI/BOOT/BOOTX64.EFI') return { path: f.path, data: await signEfi(f.data, snakeoil) };
        if (f.path.endsWith('.efi')) return { path: f.path, data: await signEfi(f.data, other) };
        return f;
      }),
    );
    const r = await secureBoot('untrusted', mixed, { expect: 'Error loading \\EFI\\Linux\\flashroot.efi: Access Denied', failOn: [MARKER] });
    expect(r.failedOn, r.console.join('\n')).toBeUndefined();
    expect(r.matched, r.console.join('\n')).toBe(true);
  });
});
