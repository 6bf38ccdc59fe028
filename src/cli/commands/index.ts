import type { Command } from 'commander';
import { register as endurance } from './endurance.js';
import { register as uki } from './uki.js';

/** Each command file registers its flags and imports its implementation only when it runs. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [endurance, uki];
