/**
 * A drive opened through etcher-sdk's BlockDevice: O_EXCL when writing (the kernel refuses while
 * anything has it mounted or open exclusively) and O_DIRECT always, so reads come from the device,
 * never from the page cache. Also turns raw I/O errors into errors that say what happened.
 */
import { stat } from 'node:fs/promises';
import { blockDeviceBytes } from '../disk/probe.js';
import type { Drive } from 'drivelist';
import { sourceDestination } from 'etcher-sdk';
import { createBuffer } from 'etcher-sdk/build/aligned-lockable-buffer.js';
import type { FlashrootError } from '../errors.js';
import { DeviceBusyError, DevicePermissionError, DeviceVanishedError, WriteFailedError } from './errors.js';
import type { DriveFacts } from './facts.js';

export class Target extends sourceDestination.BlockDevice {
  /** The drive's own write cache is flushed too, so "written" means on the medium. */
  async flush(): Promise<void> {
    await this.fileHandle.datasync();
  }
}

function asDrivelistDrive(d: DriveFacts): Drive {
  return {
    enumerator: 'flashroot',
    busType: 'UNKNOWN',
    busVersion: null,
    device: d.path,
    devicePath: null,
    raw: d.path,
    description: d.model,
    error: null,
    size: d.size,
    blockSize: d.physicalBlockSize,
    logicalBlockSize: d.logicalBlockSize,
    mountpoints: [],
    isReadOnly: d.readOnly,
    isSystem: d.system,
    isVirtual: d.virtual,
    isRemovable: d.removable,
    isCard: null,
    isSCSI: null,
    isUSB: null,
    isUAS: null,
    partitionTableType: null,
  };
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err).code) : undefined;
}

export async function openTarget(drive: DriveFacts, write: boolean): Promise<Target> {
  // keepOriginal: etcher's "clean" step is Windows diskpart; nothing to do on Linux.
  const target = new Target({ drive: asDrivelistDrive(drive), write, direct: true, keepOriginal: true });
  try {
    await target.open();
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'EACCES' || code === 'EPERM') throw new DevicePermissionError(drive.path, err);
    if (code === 'EBUSY') throw new DeviceBusyError(drive.path, err);
    throw classifyIoError(drive.path, 0, err, await mediumPresent(drive.path));
  }
  return target;
}

/** Aligned memory, as O_DIRECT requires of the buffer itself, not only of offsets and lengths. */
export function alignedBuffer(size: number, alignment: number): Buffer {
  const b = createBuffer(size, alignment);
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}

/**
 * Is the device still there with a medium in it? A pulled USB stick loses its node; a card pulled
 * from a reader (or a loop device whose capacity dropped) keeps its node with size 0.
 */
export async function mediumPresent(device: string): Promise<boolean> {
  try {
    await stat(device);
    return (await blockDeviceBytes(device)) > 0;
  } catch {
    return false;
  }
}

export function classifyIoError(device: string, offset: number, err: unknown, present: boolean): FlashrootError {
  if (!present || ['ENODEV', 'ENXIO', 'ENOMEDIUM'].includes(errnoOf(err) ?? '')) {
    return new DeviceVanishedError(device, offset, err);
  }
  const what = err instanceof Error ? err.message : String(err);
  return new WriteFailedError(device, offset, what, err);
}
