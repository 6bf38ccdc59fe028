/**
 * Which drivers the initramfs carries for the box the stick will boot (`--hardware`): this box's
 * devices (host), a box's devices recorded there with `flashroot hardware --save FILE`, or every
 * driver of the classes a boot can need (generic). Devices are named by their modaliases, which
 * the stick's own kernel resolves through its modules.alias, so a record made under one kernel
 * serves a stick built with another.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, release } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { DRIVER_CLASSES, type DriverClassName } from '../initramfs/module-groups.js';
import type { ModuleRequest } from '../initramfs/modules.js';

export const HARDWARE_KINDS = ['generic', 'host'] as const;
/** 'generic', 'host', or the path of a recorded file. */
export type HardwareChoice = string;

const FORMAT = 'flashroot-hardware';
const FORMAT_VERSION = 1;

const HardwareFileSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(FORMAT_VERSION),
  host: z.string(),
  kernel: z.string(),
  modaliases: z.array(z.string().min(1)),
});
export type HardwareFile = z.infer<typeof HardwareFileSchema>;

/** Every /sys/bus/<bus>/devices/<dev>/modalias, sorted and without repeats: what the init's coldplug sees. */
export async function readModaliases(sys = '/sys'): Promise<string[]> {
  const found = new Set<string>();
  const buses = await readdir(join(sys, 'bus')).catch(() => [] as string[]);
  for (const bus of buses) {
    const devices = await readdir(join(sys, 'bus', bus, 'devices')).catch(() => [] as string[]);
    for (const dev of devices) {
      const alias = await readFile(join(sys, 'bus', bus, 'devices', dev, 'modalias'), 'utf8').catch(() => '');
      if (alias.trim()) found.add(alias.trim());
    }
  }
  return [...found].sort();
}

export async function recordHardware(sys = '/sys'): Promise<HardwareFile> {
  // The kernel is informational: the stick's own kernel resolves the modaliases at build time.
  return { format: FORMAT, version: FORMAT_VERSION, host: hostname(), kernel: release(), modaliases: await readModaliases(sys) };
}

export async function saveHardware(file: string, record: HardwareFile): Promise<void> {
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
}

export async function loadHardwareFile(file: string): Promise<HardwareFile> {
  const again = 'record it on the box the stick will boot: flashroot hardware --save FILE';
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(file, `Cannot read hardware file ${file}: ${(e as Error).message}.`, `--hardware takes generic, host or such a file; ${again}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InputError(file, `${file} is not JSON.`, again);
  }
  const r = HardwareFileSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw new InputError(file, `${file} is not a flashroot hardware file (version ${FORMAT_VERSION}): ${problems}.`, again);
  }
  return r.data;
}

/** The driver classes generic hardware means for this build. */
export function genericClasses(networkLower: boolean): DriverClassName[] {
  return (Object.keys(DRIVER_CLASSES) as DriverClassName[]).filter((c) => networkLower || !DRIVER_CLASSES[c].networkOnly);
}

export interface HardwareRequest {
  choice: HardwareChoice;
  /** One line for the summary. */
  describe: string;
  modules: ModuleRequest;
  /**
   * What the initramfs and the stick carry together, when some drivers of the choice are left to
   * the stick (DriverClass.onStick): the stick's image holds those and the database of all.
   */
  withStick?: ModuleRequest;
}

/** What a --hardware value asks of the initramfs, on top of the module groups the init needs anyway. */
export async function hardwareRequest(choice: HardwareChoice, networkLower: boolean, sys = '/sys'): Promise<HardwareRequest> {
  if (choice === 'generic') {
    const classes = genericClasses(networkLower).map((c) => DRIVER_CLASSES[c]);
    const include = classes.flatMap((c) => c.paths);
    const except = classes.flatMap((c) => c.except);
    const onStick = classes.flatMap((c) => c.onStick);
    return {
      choice,
      describe: `generic: ${classes.map((c) => c.why).join('; ')}`,
      modules: { paths: { include, except: [...except, ...onStick] } },
      ...(onStick.length > 0 ? { withStick: { paths: { include, except } } } : {}),
    };
  }
  if (choice === 'host') {
    const aliases = await readModaliases(sys);
    return { choice, describe: `host: the drivers of this box's ${aliases.length} devices`, modules: { aliases } };
  }
  const file = await loadHardwareFile(choice);
  return { choice, describe: `${choice}: the drivers of ${file.host}'s ${file.modaliases.length} devices`, modules: { aliases: file.modaliases } };
}
