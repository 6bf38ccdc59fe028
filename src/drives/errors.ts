/**
 * What can go wrong while writing a drive, each with the data a user or script needs and the state
 * the stick is left in.
 */
import { FlashrootError } from '../errors.js';

const NOT_BOOTABLE = 'The stick was left without a partition table, so it will not boot half-written.';

/** The drive went away or lost its medium (unplugged, card pulled) during the write. */
export class DeviceVanishedError extends FlashrootError {
  constructor(
    readonly device: string,
    readonly offset: number,
    cause?: unknown,
  ) {
    super('EVANISHED', `${device} disappeared while writing at byte ${offset}. ${NOT_BOOTABLE}`, {
      hint: 'Check the connection (or the card in the reader), then run the same command again.',
      exitCode: 7,
      cause,
    });
  }
}

/** The drive refused a write or wrote fewer bytes than asked. */
export class WriteFailedError extends FlashrootError {
  constructor(
    readonly device: string,
    readonly offset: number,
    what: string,
    cause?: unknown,
  ) {
    super('EWRITE', `Writing ${device} failed at byte ${offset}: ${what}. ${NOT_BOOTABLE}`, {
      hint: 'The stick may be failing or full of bad blocks; try another one.',
      exitCode: 7,
      cause,
    });
  }
}

/** Reading back differs from the image. */
export class VerifyMismatchError extends FlashrootError {
  constructor(
    readonly device: string,
    readonly offset: number,
    readonly expectedSha256: string,
    readonly actualSha256: string,
    /** Set when the writer erased the partition table again, since the stick cannot be trusted. */
    readonly madeNotBootable = false,
  ) {
    super(
      'EVERIFY',
      `Verification failed: ${device} differs from the image at byte ${offset} ` +
        `(image block sha256 ${expectedSha256.slice(0, 16)}…, read back ${actualSha256.slice(0, 16)}…).` +
        (madeNotBootable ? ' The partition table was erased again, so the stick will not boot in this state.' : ''),
      { hint: 'The stick does not keep what is written to it (counterfeit or worn out?); use another one.', exitCode: 8 },
    );
  }
}

/** Stopped by the user (Ctrl-C) or a signal. */
export class WriteAbortedError extends FlashrootError {
  constructor(
    readonly device: string,
    readonly bytesWritten: number,
    readonly state: 'untouched' | 'not-bootable' | 'written-unverified',
  ) {
    const what = {
      untouched: 'Nothing was written.',
      'not-bootable': `Stopped after ${bytesWritten} bytes. ${NOT_BOOTABLE}`,
      'written-unverified': 'The image was written completely but verification was stopped.',
    }[state];
    super('EABORTED', `Interrupted: ${what}`, { hint: `Run the same command again to write ${device}.`, exitCode: 130 });
  }
}

/** Not allowed to open the device. */
export class DevicePermissionError extends FlashrootError {
  constructor(
    readonly device: string,
    cause?: unknown,
  ) {
    super('EPERM', `Permission denied opening ${device} for writing.`, {
      hint: 'Writing a drive needs root: run it with sudo.',
      exitCode: 77,
      cause,
    });
  }
}

/** Another program has the device open (a mount, a partition editor, another flashroot). */
export class DeviceBusyError extends FlashrootError {
  constructor(
    readonly device: string,
    cause?: unknown,
  ) {
    super('EBUSY', `${device} is in use by another program, and is opened exclusively for writing.`, {
      hint: 'Close whatever uses it (file manager, mounts: see `flashroot drives`), then try again.',
      exitCode: 6,
      cause,
    });
  }
}
