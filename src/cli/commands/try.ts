import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';

interface TryOptions {
  uefi?: boolean;
  expect?: string;
  timeout: string;
  memory: string;
  writable?: boolean;
  network?: boolean;
}

export const register: RegisterCommand = (program: Command) => {
  program
    .command('try')
    .description('Boot an image in QEMU as a USB stick, its serial console on this terminal, before flashing it.')
    .argument('<image>', 'image built by flashroot build')
    .option('--uefi', 'boot under UEFI firmware (OVMF) instead of BIOS')
    .option('--expect <text>', 'exit 0 as soon as this text appears on the console, 1 if it does not')
    .option('--timeout <seconds>', 'stop the virtual machine after this long (exit 1: the guest did not power off by itself)', '300')
    .option('--memory <MiB>', 'guest RAM', '1024')
    .option('--writable', 'let the guest write to the image (default: writes go to a throwaway snapshot)')
    .option('--network', 'give the guest a NIC on QEMU user networking (this host is 10.0.2.2), for sticks built with --lower http://…')
    .action(async (image: string, opts: TryOptions) => {
      const [{ bootImage }, { probeStickImage }, { FlashrootError, UsageError }] = await Promise.all([
        import('../../qemu/boot.js'),
        import('../../disk/probe.js'),
        import('../../errors.js'),
      ]);
      const timeoutSec = Number(opts.timeout);
      const memoryMiB = Number(opts.memory);
      const problems = [
        ...(!Number.isInteger(timeoutSec) || timeoutSec < 1 ? [`--timeout ${opts.timeout}: give whole seconds, at least 1`] : []),
        ...(!Number.isInteger(memoryMiB) || memoryMiB < 64 ? [`--memory ${opts.memory}: give MiB, at least 64`] : []),
      ];
      if (problems.length) throw new UsageError(`invalid options:\n- ${problems.join('\n- ')}`, 'see flashroot try --help');
      // A file of another kind would boot to a firmware error and wait for the timeout.
      await probeStickImage(image);
      const r = await bootImage({
        image,
        uefi: opts.uefi,
        expect: opts.expect,
        timeoutSec,
        memoryMiB,
        writable: opts.writable,
        network: opts.network,
        onLine: (line) => process.stdout.write(`${line}\n`),
      });
      if (opts.expect) {
        const how = r.matched ? `found '${opts.expect}' after ${(r.msToExpect! / 1000).toFixed(1)} s` : `'${opts.expect}' did not appear${r.timedOut ? ` within ${timeoutSec} s` : ''}`;
        process.stderr.write(`flashroot try: ${how}\n`);
        process.exitCode = r.matched ? 0 : 1;
      } else if (r.timedOut) {
        // Without --expect, only a guest that powers off by itself ends the try well.
        process.stderr.write(`flashroot try: stopped the virtual machine after ${timeoutSec} s (--timeout); the guest did not power off by itself\n`);
        process.exitCode = 1;
      }
      if (!r.matched && !r.timedOut && r.exitCode !== undefined && r.exitCode !== 0) {
        throw new FlashrootError('EQEMU', `QEMU exited with code ${r.exitCode} (its messages are above, marked [qemu])`, {
          hint: 'an option QEMU refused, or a firmware or image it could not open',
          exitCode: 5,
        });
      }
    });
};
