/**
 * The last gate before a write. A drive that passed every rule needs a yes (`--yes` in scripts);
 * a drive whose refusals were overridden needs its path typed back (`--yes-i-am-sure=/dev/sdX` in
 * scripts, matching exactly), so that a flag copied from another command line cannot hit another disk.
 */
import { createInterface } from 'node:readline/promises';
import { SafetyError, UsageError } from '../errors.js';
import type { DriveFacts } from './facts.js';
import type { Verdict } from './policy.js';

export interface ConfirmOptions {
  yes?: boolean;
  yesIAmSure?: string;
  /** Interactive prompts are only offered on a terminal. */
  interactive: boolean;
  /** What is done to the drive, in the prompt: 'erase' (write) or 'update' (flashroot update). */
  action?: string;
  ask?: (question: string) => Promise<string>;
}

/** What the user must give: 'yes' (y/--yes) or 'path' (the device path typed or --yes-i-am-sure). */
export function confirmationNeeded(v: Verdict): 'yes' | 'path' {
  return v.overridden.length ? 'path' : 'yes';
}

async function askOnTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

export async function confirmWrite(d: DriveFacts, v: Verdict, opts: ConfirmOptions): Promise<void> {
  const need = confirmationNeeded(v);
  if (opts.yesIAmSure !== undefined) {
    if (opts.yesIAmSure !== d.path) {
      throw new SafetyError(`--yes-i-am-sure=${opts.yesIAmSure} does not name the drive being written (${d.path}).`, [], `Use --yes-i-am-sure=${d.path} if you mean it.`);
    }
    return;
  }
  if (need === 'yes' && opts.yes) return;
  if (!opts.interactive) {
    const flag = need === 'path' ? `--yes-i-am-sure=${d.path}` : '--yes';
    throw new UsageError(`Refusing to ${opts.action ?? 'erase'} ${d.path} without confirmation (no terminal to ask on).`, `Add ${flag} to confirm.`);
  }
  const ask = opts.ask ?? askOnTerminal;
  const action = opts.action ?? 'erase';
  const question = need === 'path' ? `Type ${d.path} to ${action} it: ` : `${action[0]?.toUpperCase()}${action.slice(1)} ${d.path}? [y/N] `;
  const answer = (await ask(question)).trim();
  const ok = need === 'path' ? answer === d.path : /^y(es)?$/i.test(answer);
  if (!ok) throw new SafetyError(`Not confirmed: ${d.path} was not touched.`, [], undefined);
}
