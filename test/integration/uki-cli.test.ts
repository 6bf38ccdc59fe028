import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateSigningKey, type SigningKey } from '../../src/boot/sign.js';
import { findNewestKernel } from '../../src/kernel/version.js';
import { run } from '../../src/util/run.js';

let dir: string;
let key: SigningKey;
let kernel: string;
let initrd: string;
const cli = (args: readonly string[]) => run('node', ['bin/flashroot.js', 'uki', ...args], { okExitCodes: [2, 3] });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-uki-cli-'));
  key = await generateSigningKey(dir, 'flashroot cli test');
  kernel = (await findNewestKernel()).image;
  initrd = join(dir, 'initrd');
  await writeFile(initrd, 'not a real initrd; the command does not look inside');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('writes a signed UKI that sbverify accepts and objdump reads', async () => {
  const out = join(dir, 'flashroot.efi');
  const r = await cli(['--kernel', kernel, '--initrd', initrd, '--cmdline', 'console=ttyS0 quiet', '--out', out, '--sign-key', key.key, '--sign-cert', key.cert]);
  expect(r.exitCode).toBe(0);
  expect((await run('sbverify', ['--cert', key.cert, out])).stdout).toMatch(/Signature verification OK/);
  expect((await run('objdump', ['-h', out])).stdout).toMatch(/\.osrel[\s\S]*\.cmdline[\s\S]*\.uname[\s\S]*\.initrd[\s\S]*\.linux/);
});

it('exits with a usage error for half a signing key, an input error for a missing kernel or a versionless os-release', async () => {
  const half = await cli(['--kernel', kernel, '--initrd', initrd, '--cmdline', 'x', '--out', join(dir, 'a.efi'), '--sign-key', key.key]);
  expect(half.exitCode).toBe(2);
  expect(half.stderr).toMatch(/--sign-key and --sign-cert go together/);
  const missing = await cli(['--kernel', join(dir, 'nope'), '--initrd', initrd, '--cmdline', 'x', '--out', join(dir, 'b.efi')]);
  expect(missing.exitCode).toBe(3);
  expect(missing.stderr).toMatch(/hint: /);
  const nameless = join(dir, 'os-release');
  await writeFile(nameless, 'NAME="no version here"\n');
  const unlisted = await cli(['--kernel', kernel, '--initrd', initrd, '--cmdline', 'x', '--out', join(dir, 'c.efi'), '--os-release', nameless]);
  expect(unlisted.exitCode).toBe(3);
  expect(unlisted.stderr).toMatch(/systemd-boot would not list/);
});
