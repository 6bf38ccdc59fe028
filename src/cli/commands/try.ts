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
    .option('--timeout <seconds>', 'stop the virtual machine after this long', '300')
    .option('--memory <MiB>', 'guest RAM', '1024')
    .option('--writable', 'let the guest write to the image (default: writes go to a throwaway snapshot)')
    .option('--network', 'give the guest a NIC on QEMU user networking (this host is 10.0.2.2), for sticks built with --lower http://…')
    .action(async (image: string, opts: TryOptions) => {
      const [{ bootImage }, { UsageError }] = await Promise.all([import('../../qemu/boot.js'), import('../../errors.js')]);
      const timeoutSec = Number(opts.timeout);
      const memoryMiB = Number(opts.memory);
      if (!Number.isInteger(timeoutSec) || timeoutSec < 1) throw new UsageError(`--timeout ${opts.timeout}: give whole seconds`);
      if (!Number.isInteger(memoryMiB) || memoryMiB < 64) throw new UsageError(`--memory ${opts.memory}: give MiB, at least 64`);
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
      }
    });
};
