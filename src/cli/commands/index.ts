import type { Command } from 'commander';

/** Each command file registers its flags and imports its implementation only when it runs. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [];
