import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePe } from '../../../src/boot/pe.js';
import { checkSigningKey, generateSigningKey, signEfi, signEspFiles, SignatureError, verifyEfi, type SigningKey } from '../../../src/boot/sign.js';
import { readBootBlobs, systemdBootFiles } from '../../../src/boot/systemd-boot.js';
import { InputError } from '../../../src/errors.js';
import { findNewestKernel } from '../../../src/kernel/version.js';
import { run } from '../../../src/util/run.js';

let dir: string;
let key: SigningKey;
let otherKey: SigningKey;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-sign-test-'));
  const mk = async (name: string) => {
    const d = join(dir, name);
    await mkdir(d);
    return generateSigningKey(d, `flashroot ${name}`);
  };
  [key, otherKey] = await Promise.all([mk('mine'), mk('other')]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('signing the ESP', () => {
  it('signs the loader and every UKI so that sbverify --cert passes', async () => {
    const kernel = await findNewestKernel();
    const files = systemdBootFiles({ ...(await readBootBlobs()), kernel: await readFile(kernel.image), initrd: Buffer.from('initrd'), uname: kernel.version, cmdline: 'console=ttyS0' });
    const signed = await signEspFiles(files, key);
    expect(signed.map((f) => f.path)).toEqual(files.map((f) => f.path));
    for (const f of signed) {
      if (!/\.efi$/i.test(f.path)) {
        expect(f.data).toEqual(files.find((g) => g.path === f.path)?.data);
        continue;
      }
      expect(parsePe(f.data).certificateTableSize).toBeGreaterThan(0);
      const path = join(dir, 'check.efi');
      await writeFile(path, f.data);
      const { stdout } = await run('sbverify', ['--cert', key.cert, path]);
      expect(stdout).toMatch(/Signature verification OK/);
      await expect(verifyEfi(f.data, otherKey.cert)).rejects.toThrow(SignatureError);
    }
  });

  it('fails verification of an unsigned binary', async () => {
    const { loader } = await readBootBlobs();
    await expect(verifyEfi(loader, key.cert)).rejects.toThrow(SignatureError);
  });

  it('stamps the signing time, so a build epoch (reproducible builds) signs the same bytes seconds apart', async () => {
    const { loader } = await readBootBlobs();
    const epoch = 315532800; // 1980-01-01, the FAT epoch reproducible builds default to
    const first = await signEfi(loader, key, epoch);
    const now = await signEfi(loader, key);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await signEfi(loader, key, epoch)).equals(first)).toBe(true);
    // Without an epoch the time of signing is in the signature: a second later, other bytes.
    expect((await signEfi(loader, key)).equals(now)).toBe(false);
    await verifyEfi(first, key.cert);
  });

  it('checks the key and certificate before work', async () => {
    await expect(checkSigningKey({ key: join(dir, 'missing.key'), cert: key.cert })).rejects.toThrow(InputError);
    await expect(checkSigningKey({ key: key.key, cert: (key as SigningKey & { certDer: string }).certDer })).rejects.toThrow(/not PEM/);
  });
});
