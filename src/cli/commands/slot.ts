import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';
import type { SlotOptions } from '../../update/update.js';

export const register: RegisterCommand = (program: Command) => {
  program
    .command('slot')
    .description('Make slot a or b of a stick the current one, booted by default by every loader (no trial); the boot menus also offer each slot.')
    .argument('<slot>', 'a or b')
    .requiredOption('--drive <device>', 'the stick, e.g. /dev/sdb (an image file stands in for one)')
    .option('--max-size <size>', 'refuse drives larger than this (default 128GiB)')
    .option('--allow-non-removable', 'allow a drive that is neither removable nor hot-pluggable')
    .option('--allow-virtual', 'allow a virtual device (loop, zram)')
    .option('--yes', 'do not ask for confirmation when every rule passes')
    .option('--yes-i-am-sure <device>', 'confirm an override without a prompt; must equal --drive exactly')
    .option('--json', 'print the new state as JSON')
    .action(async (slot: string, opts: SlotOptions) => {
      const [{ runSlot }, { UsageError }] = await Promise.all([import('../../update/update.js'), import('../../errors.js')]);
      if (slot !== 'a' && slot !== 'b') throw new UsageError(`slot '${slot}': give a or b`);
      const r = await runSlot(slot, opts);
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    });
};
