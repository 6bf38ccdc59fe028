/**
 * Secure Boot signing of EFI binaries with sbsign, checked with sbverify. The binaries are held in
 * memory by the rest of flashroot, so they pass through a private temporary directory here.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, FlashrootError, InputError } from '../errors.js';
import { run } from '../util/run.js';
import { preflight } from '../util/tools.js';
import type { EspFile } from './systemd-boot.js';

/** PEM private key and X.509 certificate paths, as sbsign takes them. */
export interface SigningKey {
  key: string;
  cert: string;
}

/** A signature that does not verify against the given certificate. */
export class SignatureError extends FlashrootError {
  constructor(message: string, hint?: string) {
    super('ESIGNATURE', message, { hint, exitCode: 5 });
  }
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'flashroot-sign-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Fails before any work when a tool or the key/cert is missing (faketime: to sign at a build epoch). */
export async function checkSigningKey(key: SigningKey, epoch?: number): Promise<void> {
  await preflight(['sbsign', 'sbverify', ...(epoch === undefined ? [] : ['faketime'])]);
  for (const [what, path] of [['key', key.key], ['certificate', key.cert]] as const) {
    const text = await readFile(path, 'utf8').catch((e: unknown) => {
      throw new InputError(path, `Cannot read the signing ${what} ${path}: ${(e as Error).message}.`, 'Check --sign-key and --sign-cert.');
    });
    if (!text.includes('-----BEGIN ')) {
      throw new InputError(path, `The signing ${what} ${path} is not PEM.`, 'sbsign needs PEM files; convert DER with: openssl x509 -inform DER -in cert.der -out cert.pem');
    }
  }
}

/**
 * sbsign puts the time of signing into the signature (PKCS#7 signingTime): with a build epoch
 * (reproducible builds), it runs under faketime with the clock stopped at that epoch, so the same
 * input signs to the same bytes. Firmware does not check that time.
 */
export async function signEfi(image: Buffer, key: SigningKey, epoch?: number): Promise<Buffer> {
  return withTempDir(async (dir) => {
    const input = join(dir, 'in.efi');
    const output = join(dir, 'out.efi');
    await writeFile(input, image);
    const args = ['--key', key.key, '--cert', key.cert, '--output', output, input];
    if (epoch === undefined) await run('sbsign', args);
    else await run('faketime', ['-f', new Date(epoch * 1000).toISOString().replace('T', ' ').slice(0, 19), 'sbsign', ...args], { env: { TZ: 'UTC' } });
    return readFile(output);
  });
}

export async function verifyEfi(image: Buffer, cert: string): Promise<void> {
  await withTempDir(async (dir) => {
    const input = join(dir, 'image.efi');
    await writeFile(input, image);
    try {
      await run('sbverify', ['--cert', cert, input]);
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      throw new SignatureError(`The EFI binary's signature does not verify against ${cert}:\n${e.stderrTail}`, 'Sign it with the key that belongs to this certificate.');
    }
  });
}

/** Signs every .efi among the files (the loader and the UKIs) and checks each signature. */
export async function signEspFiles(files: readonly EspFile[], key: SigningKey, epoch?: number): Promise<EspFile[]> {
  await checkSigningKey(key, epoch);
  const signed: EspFile[] = [];
  for (const f of files) {
    if (!/\.efi$/i.test(f.path)) {
      signed.push(f);
      continue;
    }
    const data = await signEfi(f.data, key, epoch);
    await verifyEfi(data, key.cert);
    signed.push({ path: f.path, data });
  }
  return signed;
}

/**
 * Creates a self-signed RSA-2048 key and certificate (PEM, plus DER for firmware setup screens).
 * For tests and for users who enrol their own db key; see docs/secure-boot.md.
 */
export async function generateSigningKey(dir: string, commonName: string): Promise<SigningKey & { certDer: string }> {
  const key = join(dir, 'db.key');
  const cert = join(dir, 'db.crt');
  const certDer = join(dir, 'db.cer');
  await run('openssl', ['req', '-new', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650', '-subj', `/CN=${commonName}/`, '-keyout', key, '-out', cert]);
  await run('openssl', ['x509', '-in', cert, '-outform', 'DER', '-out', certDer]);
  return { key, cert, certDer };
}
