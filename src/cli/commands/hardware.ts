import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';

export const register: RegisterCommand = (program: Command) => {
  program
    .command('hardware')
    .description("Record this box's devices (their modaliases), for a stick built elsewhere with --hardware FILE.")
    .option('--save <file>', 'write the record to FILE (default: print it)')
    .action(async (opts: { save?: string }) => {
      const { recordHardware, saveHardware } = await import('../../kernel/hardware.js');
      const record = await recordHardware();
      if (!opts.save) {
        process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
        return;
      }
      await saveHardware(opts.save, record);
      process.stderr.write(`Recorded ${record.modaliases.length} devices of ${record.host} in ${opts.save}; build with: flashroot build --hardware ${opts.save} …\n`);
    });
};
