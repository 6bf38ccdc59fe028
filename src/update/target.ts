/**
 * The stick an update or a slot change writes to: a drive named by its device (the same rules and
 * confirmation as `flashroot write`), or an image file standing in for it (tests, images kept on
 * disk). Its FAT is opened read-write through FatFs, files fsynced as they close.
 */
import { constants } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { SafetyError } from '../errors.js';
import { FatVolume } from '../disk/fat.js';
import { SECTOR } from '../disk/mbr.js';
import { probeStickImage } from '../disk/probe.js';
import { confirmWrite } from '../drives/confirm.js';
import { DEFAULT_MAX_SIZE, type PolicyOptions } from '../drives/policy.js';
import { selectDrive } from '../drives/write-image.js';
import { parseSize } from '../util/units.js';

export interface TargetOptions {
  drive: string;
  maxSize?: string;
  allowNonRemovable?: boolean;
  allowVirtual?: boolean;
  yes?: boolean;
  yesIAmSure?: string;
}

export interface OpenTarget {
  path: string;
  kind: 'image file' | 'drive';
  fat: FatVolume;
  /** The FAT partition: byte offset and size. */
  offset: number;
  size: number;
}

/** The device this box booted from, when it runs from a flashroot stick (/run/flashroot/state). */
async function bootMedium(): Promise<string | undefined> {
  // FLASHROOT_BOOT_STATE stands in for it in tests (a machine that did not boot from a stick).
  const state = await readFile(process.env.FLASHROOT_BOOT_STATE ?? '/run/flashroot/state', 'utf8').catch(() => '');
  return /^medium=(\S+)$/m.exec(state)?.[1];
}

/**
 * Updating the stick this box runs from is refused: its FAT is mounted by the running system
 * (the kernel's vfat and our FatFs would both cache its FAT), and the running root is a file on it.
 * docs/update.md says what it would take.
 */
async function refuseRunningStick(drive: string): Promise<void> {
  const medium = await bootMedium();
  // The drive itself, or one of its partitions (/dev/sdb1, /dev/loop0p1, /dev/nvme0n1p1).
  if (medium && (medium === drive || (medium.startsWith(drive) && /^p?\d+$/.test(medium.slice(drive.length))))) {
    throw new SafetyError(
      `Refusing to update ${drive}: this box is running from it (${medium} is mounted at /run/flashroot/medium); nothing was written.`,
      ['running-stick'],
      'Update it from another machine, or boot this box from another stick first (docs/update.md: why, and what it would take).',
    );
  }
}

export async function openTarget(o: TargetOptions, action: 'update' | 'change the slot of'): Promise<OpenTarget> {
  const st = await stat(o.drive).catch(() => undefined);
  let kind: OpenTarget['kind'] = 'image file';
  if (!st?.isFile()) {
    await refuseRunningStick(o.drive);
    const policy: PolicyOptions = {
      maxSize: o.maxSize === undefined ? DEFAULT_MAX_SIZE : parseSize(o.maxSize, '--max-size'),
      allowNonRemovable: o.allowNonRemovable,
      allowVirtual: o.allowVirtual,
    };
    const { drive, verdict } = await selectDrive(o.drive, policy, action);
    await confirmWrite(drive, verdict, { yes: o.yes, yesIAmSure: o.yesIAmSure, interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY), action });
    kind = 'drive';
  }
  const { fat: part } = await probeStickImage(o.drive);
  const offset = part.startLba * SECTOR;
  const size = part.sectors * SECTOR;
  // O_EXCL on a drive: the kernel refuses while anything has it or a partition mounted.
  const fat = await FatVolume.open(o.drive, offset, size, kind === 'drive' ? constants.O_RDWR | constants.O_EXCL : 'r+');
  return { path: o.drive, kind, fat, offset, size };
}
