import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../src/boot/sign.js';
import { FatVolume } from '../../src/disk/fat.js';
import { PARTITION_START } from '../../src/disk/image.js';
import { build } from '../../src/pipeline/build.js';
import { Reporter } from '../../src/util/log.js';
import { run } from '../../src/util/run.js';
import { sha256 } from '../helpers/demo.js';

/** Collects what the build prints, as the user would see it. */
function capturingReporter(): { reporter: Reporter; text: () => string } {
  let text = '';
  const out = { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
  return { reporter: new Reporter(false, out), text: () => text };
}

describe('flashroot build --sign-key/--sign-cert', () => {
  it('signs systemd-boot and every UKI on the stick so that sbverify accepts them; unsigned builds say so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'signed-'));
    const key = await generateSigningKey(dir, 'flashroot test db key');
    const signed = capturingReporter();
    const r = await build({ demo: true, boot: 'uefi', out: join(dir, 'signed.img'), signKey: key.key, signCert: key.cert }, signed.reporter);
    expect(signed.text()).toContain('UKIs and systemd-boot signed');

    const fat = await FatVolume.mount(r.image, PARTITION_START, r.imageBytes - PARTITION_START);
    const efis = fat.list().filter((f) => f.path.toLowerCase().endsWith('.efi'));
    expect(efis.map((f) => f.path).sort()).toEqual(['/EFI/BOOT/BOOTX64.EFI', '/EFI/Linux/flashroot-a-rescue.efi', '/EFI/Linux/flashroot-a.efi']);
    for (const f of efis) {
      const extracted = join(dir, f.path.replaceAll('/', '_'));
      await writeFile(extracted, fat.readFile(f.path));
      const v = await run('sbverify', ['--cert', key.cert, extracted], { okExitCodes: [1] });
      expect(v.exitCode, `${f.path}: ${v.stderr}`).toBe(0);
    }
    fat.close();

    const unsigned = capturingReporter();
    await build({ demo: true, boot: 'uefi', uefiLoader: 'systemd-boot', out: join(dir, 'unsigned.img') }, unsigned.reporter);
    expect(unsigned.text()).toContain('secure boot: unsigned (use --sign-key/--sign-cert to sign)');
    // The default UEFI route needs no key: shim and the Debian-signed kernel.
    const stock = capturingReporter();
    const stockResult = await build({ demo: true, boot: 'uefi', out: join(dir, 'stock.img') }, stock.reporter);
    expect(stockResult.uefiLoader).toBe('shim');
    expect(stockResult.kernelSigner).toMatch(/Debian Secure Boot Signer/);
    expect(stock.text()).toContain('secure boot: boots with stock keys: shim (Microsoft) checks grub (Debian)');
    await expect(build({ demo: true, boot: 'uefi', uefiLoader: 'shim', signKey: key.key, signCert: key.cert, out: join(dir, 'both.img') }, capturingReporter().reporter)).rejects.toThrow(
      /--sign-key with --uefi-loader shim/,
    );
  });

  it('with --reproducible, a signed stick is identical when built again (signing time = the build epoch)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'signed-repro-'));
    const key = await generateSigningKey(dir, 'flashroot test db key');
    const once = { demo: true, boot: 'uefi', reproducible: true, signKey: key.key, signCert: key.cert } as const;
    const a = await build({ ...once, out: join(dir, 'a.img') }, new Reporter(true));
    // sbsign stamps the time to the second: make sure the two builds sign in different seconds.
    await new Promise((r) => setTimeout(r, 1100));
    const b = await build({ ...once, out: join(dir, 'b.img') }, new Reporter(true));
    expect(await sha256(b.image)).toBe(await sha256(a.image));
  });
});
