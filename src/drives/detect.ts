/**
 * Reads the machine once (drivelist, lsblk, /proc/swaps, /proc/mdstat) into a DriveSnapshot, and
 * finds the drive the user named. All judgement happens later, on the snapshot.
 */
import { readFile, realpath } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { run } from '../util/run.js';
import { describeDrives, type DriveFacts, type DriveSnapshot, type LsblkNode } from './facts.js';

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    // /proc/mdstat exists only when md is built into the kernel; no md means no md members.
    return '';
  }
}

export async function takeSnapshot(): Promise<DriveSnapshot> {
  const drivelist = await import('drivelist');
  const [drives, lsblk, swaps, mdstat] = await Promise.all([
    drivelist.list(),
    run('lsblk', ['--json', '--bytes', '--output-all']),
    readOrEmpty('/proc/swaps'),
    readOrEmpty('/proc/mdstat'),
  ]);
  return {
    drivelist: drives,
    lsblk: JSON.parse(lsblk.stdout) as { blockdevices: LsblkNode[] },
    swaps,
    mdstat,
  };
}

export async function detectDrives(): Promise<DriveFacts[]> {
  return describeDrives(await takeSnapshot());
}

/** The drive at `path` (symlinks such as /dev/disk/by-id/… resolved), or an error naming the choices. */
export async function findDrive(drives: readonly DriveFacts[], path: string): Promise<DriveFacts> {
  let resolved: string;
  try {
    resolved = await realpath(path);
  } catch {
    throw new InputError(path, `No such device: ${path}`, 'Run `flashroot drives` to list the drives.');
  }
  const drive = drives.find((d) => d.path === resolved);
  if (drive) return drive;
  const parent = drives.find((d) => d.contents.some((c) => c.path === resolved && c.type === 'part'));
  throw new InputError(
    path,
    `${path} is not a whole drive.`,
    parent ? `Name the whole drive instead: --drive ${parent.path}` : 'Run `flashroot drives` to list the drives.',
  );
}
