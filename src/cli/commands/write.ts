import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';
import type { WriteOptions } from '../../drives/write-image.js';

export const register: RegisterCommand = (program: Command) => {
  program
    .command('write')
    .description('Write an image to a drive: only if every safety rule passes, sparse, first sector last, verified by reading back.')
    .argument('<image>', 'raw disk image to write')
    .requiredOption('--drive <device>', 'the whole drive to erase, e.g. /dev/sdb')
    .option('--max-size <size>', 'refuse drives larger than this (default 128GiB)')
    .option('--allow-non-removable', 'allow a drive that is neither removable nor hot-pluggable (an internal disk)')
    .option('--allow-virtual', 'allow a virtual device (loop, zram)')
    .option('--unmount', "unmount the drive's mounted filesystems first")
    .option('--yes', 'do not ask for confirmation when every rule passes')
    .option('--yes-i-am-sure <device>', 'confirm an override without a prompt; must equal --drive exactly')
    .option('--json', 'print the result as JSON; no progress bar')
    .action(async (image: string, opts: WriteOptions) => {
      const { runWrite } = await import('../../drives/write-image.js');
      await runWrite(image, opts);
    });
};
