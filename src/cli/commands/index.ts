import type { Command } from 'commander';
import { register as build } from './build.js';
import { register as drives } from './drives.js';
import { register as endurance } from './endurance.js';
import { register as hardware } from './hardware.js';
import { register as inspect } from './inspect.js';
import { register as publish } from './publish.js';
import { register as tryImage } from './try.js';
import { register as slot } from './slot.js';
import { register as uki } from './uki.js';
import { register as update } from './update.js';
import { register as write } from './write.js';

/** Each command file registers its flags and imports its implementation only when it runs. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [build, tryImage, inspect, publish, endurance, uki, drives, write, update, slot, hardware];
