import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';

interface UkiOptions {
  kernel: string;
  initrd: string;
  cmdline: string;
  out: string;
  osRelease?: string;
  stub?: string;
  signKey?: string;
  signCert?: string;
}

export const register: RegisterCommand = (program: Command) => {
  program
    .command('uki')
    .description('Build a Unified Kernel Image (systemd stub + kernel + initrd + command line), optionally signed for Secure Boot.')
    .requiredOption('--kernel <file>', 'kernel bzImage, e.g. /boot/vmlinuz-6.1.0-*-amd64')
    .requiredOption('--initrd <file>', 'initramfs to embed')
    .requiredOption('--cmdline <text>', 'kernel command line to embed')
    .requiredOption('--out <file>', 'where to write the .efi')
    .option('--os-release <file>', 'os-release for the .osrel section (default: a flashroot one naming the kernel release)')
    .option('--stub <file>', "systemd EFI stub (default: systemd-boot-efi's linuxx64.efi.stub)")
    .option('--sign-key <pem>', 'Secure Boot signing key (with --sign-cert)')
    .option('--sign-cert <pem>', 'Secure Boot certificate (with --sign-key)')
    .action(async (opts: UkiOptions) => {
      const [{ UsageError }, { outputFileProblem }] = await Promise.all([import('../../errors.js'), import('../../util/output-path.js')]);
      const out = await outputFileProblem(opts.out, { example: 'flashroot.efi' });
      const problems = [...(Boolean(opts.signKey) !== Boolean(opts.signCert) ? ['--sign-key and --sign-cert go together'] : []), ...(out ? [`--out: ${out}`] : [])];
      if (problems.length) throw new UsageError(`invalid options:\n- ${problems.join('\n- ')}`, 'see flashroot uki --help');
      const [{ writeFile }, { buildUkiFromFiles }, sign, { Reporter, formatBytes }] = await Promise.all([
        import('node:fs/promises'),
        import('../../boot/uki.js'),
        import('../../boot/sign.js'),
        import('../../util/log.js'),
      ]);
      const key = opts.signKey && opts.signCert ? { key: opts.signKey, cert: opts.signCert } : undefined;
      const reporter = new Reporter();
      if (key) await sign.checkSigningKey(key);
      let uki = await reporter.step('Build the UKI', () =>
        buildUkiFromFiles({ kernel: opts.kernel, initrd: opts.initrd, cmdline: opts.cmdline, osReleasePath: opts.osRelease, stub: opts.stub }),
      );
      if (key) {
        uki = await reporter.step('Sign it', () => sign.signEfi(uki, key));
        await reporter.step('Verify the signature', () => sign.verifyEfi(uki, key.cert));
      }
      await writeFile(opts.out, uki);
      reporter.info(`${opts.out}: ${formatBytes(uki.length)}${key ? ', signed' : ''}`);
    });
};
