/**
 * The CLI entry point: registers the commands (each loads its implementation lazily) and is the
 * only place that prints errors and chooses the exit code.
 */
import { Command, CommanderError } from 'commander';
import { FlashrootError, systemError } from '../errors.js';
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
  const known = err instanceof FlashrootError ? err : systemError(err);
  if (known) {
    process.stderr.write(`flashroot: error: ${known.message}\n`);
    if (known.hint) process.stderr.write(`hint: ${known.hint}\n`);
    return known.exitCode;
  }
  // Anything else was not foreseen: a bug, which the trace helps whoever fixes it to find.
  process.stderr.write(
    `flashroot: internal error (a bug in flashroot): ${err instanceof Error ? err.message : String(err)}\n` +
      'hint: please report it with the command you ran, its output and the trace below\n' +
      `${err instanceof Error ? (err.stack ?? '') : ''}\n`,
  );
  return 70;
}
