import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';
import type { UpdateOptions } from '../../update/update.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export const register: RegisterCommand = (program: Command) => {
  program
    .command('update')
    .description("Put a new system on a stick beside the one it boots (its other slot), then make it the one to boot, on trial: if it does not confirm it came up, the stick goes back by itself. Writes only the files that changed.")
    .argument('[image]', 'an image built by flashroot build (else --root DIR or --demo)')
    .requiredOption('--drive <device>', 'the stick to update, e.g. /dev/sdb (an image file stands in for one)')
    .option('--root <dir>', 'build the new system from this root, with the stick\'s label and boot routes')
    .option('--demo', 'build the new system from the demo root')
    .option('--kernel <file>', 'with --root: the kernel (as flashroot build --kernel)')
    .option('--modules <dir>', 'with --root: its modules (as flashroot build --modules)')
    .option('--exclude <pattern>', 'with --root: leave PATTERN out (repeatable)', collect, [])
    .option('--release <name>', 'a name for the new system, shown by inspect and on the console')
    .option('--confirm-after <seconds>', 'with --root/--demo: a root without systemd counts as come up after this long')
    .option('--tries <n>', 'boots the new system gets to confirm it came up before the stick goes back', '3')
    .option('--max-size <size>', 'refuse drives larger than this (default 128GiB)')
    .option('--allow-non-removable', 'allow a drive that is neither removable nor hot-pluggable')
    .option('--allow-virtual', 'allow a virtual device (loop, zram)')
    .option('--yes', 'do not ask for confirmation when every rule passes')
    .option('--yes-i-am-sure <device>', 'confirm an override without a prompt; must equal --drive exactly')
    .option('--json', 'print the result as JSON')
    .action(async (image: string | undefined, opts: UpdateOptions) => {
      const { runUpdate } = await import('../../update/update.js');
      const r = await runUpdate({ ...opts, ...(image ? { image } : {}) });
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    });
};
