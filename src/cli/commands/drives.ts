import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';

export const register: RegisterCommand = (program: Command) => {
  program
    .command('drives')
    .description('List drives with a verdict: writable, or refused and why.')
    .option('--image <file>', 'also judge each drive against the size of this image')
    .option('--max-size <size>', 'drives larger than this are refused as suspiciously large for a stick (default 128GiB)')
    .option('--json', 'print JSON for scripts')
    .option('--raw', 'print the raw snapshot (drivelist, lsblk, /proc/swaps, /proc/mdstat) for a bug report')
    .action(async (opts: Record<string, unknown>) => {
      const { runDrives } = await import('../../drives/list-drives.js');
      await runDrives(opts);
    });
};
