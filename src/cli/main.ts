/**
 * The CLI entry point: registers the commands (each loads its implementation lazily) and is the
 * only place that prints errors and chooses the exit code.
 */
import { Command, CommanderError } from 'commander';
import { FlashrootError } from '../errors.js';
import { commands } from './commands/index.js';

export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('flashroot')
    .description('Turn a Linux root filesystem into a bootable USB stick whose root runs from a RAM-backed overlay.')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // Commander already printed its message (or the help/version text).
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof FlashrootError) {
    process.stderr.write(`flashroot: error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    return err.exitCode;
  }
  process.stderr.write(`flashroot: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 70;
}
