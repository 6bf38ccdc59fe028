/**
 * `flashroot write IMAGE --drive /dev/sdX`: every rule is checked before the drive is opened, the
 * user confirms, then the image is written sparse, first block last, and verified from the device.
 */
import { access, constants } from 'node:fs/promises';
import { SafetyError } from '../errors.js';
import { parseSize } from '../util/units.js';
import { formatBytes, formatMs, Reporter } from '../util/log.js';
import { run } from '../util/run.js';
import { preflight } from '../util/tools.js';
import { confirmWrite } from './confirm.js';
import { DevicePermissionError } from './errors.js';
import { detectDrives, findDrive } from './detect.js';
import type { DriveFacts } from './facts.js';
import { flashImage, type FlashProgress, type FlashResult } from './flash.js';
import { imageSize, mapImage } from './image-map.js';
import { DEFAULT_MAX_SIZE, judge, sameDrive, type PolicyOptions, type Verdict } from './policy.js';
import { confirmationText, progressText } from './render.js';

export interface WriteOptions {
  drive: string;
  json?: boolean;
  maxSize?: string;
  allowNonRemovable?: boolean;
  allowVirtual?: boolean;
  unmount?: boolean;
  yes?: boolean;
  yesIAmSure?: string;
}

const PROGRESS_EVERY_MS = 200;

function refuse(d: DriveFacts, v: Verdict, action = 'write'): never {
  const overrides = [...new Set(v.refusals.map((r) => r.override).filter(Boolean))];
  const hint = overrides.length && overrides.length === v.refusals.length
    ? `If you are sure, add ${overrides.join(' ')} (and confirm by typing ${d.path}).`
    : 'Choose another drive: `flashroot drives` lists them with their verdicts.';
  const reasons = v.refusals.map((r) => `  - ${r.reason}${r.override ? ` [${r.override}]` : ''}`);
  throw new SafetyError(`Refusing to ${action} ${d.path}; nothing was written:\n${reasons.join('\n')}`, v.refusals.map((r) => r.rule), hint);
}

/** The named drive and its verdict; refuses (SafetyError) unless every rule passes. Shared with flashroot update. */
export async function selectDrive(path: string, policy: PolicyOptions, action = 'write'): Promise<{ drive: DriveFacts; verdict: Verdict }> {
  const drive = await findDrive(await detectDrives(), path);
  const verdict = judge(drive, policy);
  if (!verdict.writable) refuse(drive, verdict, action);
  return { drive, verdict };
}

/** Deepest mount first, so nested mounts come off before their parents. */
async function unmountAll(d: DriveFacts): Promise<void> {
  for (const m of [...d.mountpoints].sort((a, b) => b.length - a.length)) await run('umount', [m]);
}

/** Ctrl-C (or SIGTERM) asks the writer to stop between two blocks; a second Ctrl-C kills. */
function stopOnSignals(): { signal: AbortSignal; release: () => void } {
  const ac = new AbortController();
  const onSignal = () => {
    release();
    ac.abort();
  };
  const release = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { signal: ac.signal, release };
}

function progressReporter(reporter: Reporter): (p: FlashProgress) => void {
  let phaseStarted = performance.now();
  let phase: FlashProgress['phase'] = 'writing';
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (p.phase !== phase) [phase, phaseStarted] = [p.phase, now];
    if (now - last < PROGRESS_EVERY_MS && p.bytes < p.total) return;
    last = now;
    reporter.progress(progressText(p, now - phaseStarted));
  };
}

function summary(d: DriveFacts, r: FlashResult): Record<string, unknown> {
  return {
    device: d.path,
    imageSize: r.imageSize,
    bytesWritten: r.bytesWritten,
    writeMs: Math.round(r.writeMs),
    writeBytesPerSecond: Math.round(r.bytesWritten / (r.writeMs / 1000)),
    verifiedBytes: r.verify.bytesRead,
    verifyMs: Math.round(r.verify.ms),
    sha256: r.verify.sha256,
  };
}

export async function runWrite(image: string, opts: WriteOptions): Promise<void> {
  await preflight(opts.unmount ? ['lsblk', 'umount'] : ['lsblk']);
  const reporter = new Reporter(opts.json === true);
  const policy: PolicyOptions = {
    imageSize: await imageSize(image),
    maxSize: opts.maxSize === undefined ? DEFAULT_MAX_SIZE : parseSize(opts.maxSize, '--max-size'),
    allowNonRemovable: opts.allowNonRemovable,
    allowVirtual: opts.allowVirtual,
    unmount: opts.unmount,
  };
  const { drive: shown, verdict } = await selectDrive(opts.drive, policy);
  // Before asking for a confirmation that could not be acted on.
  await access(shown.path, constants.R_OK | constants.W_OK).catch((err: unknown) => {
    throw new DevicePermissionError(shown.path, err);
  });
  const map = await mapImage(image, Math.max(shown.physicalBlockSize, 4096));
  reporter.info(confirmationText(shown, verdict));
  reporter.info(`  Image: ${formatBytes(map.size)}, of which ${formatBytes(map.mappedBytes)} will be written (${map.notes.join('; ')}).`);
  await confirmWrite(shown, verdict, {
    yes: opts.yes,
    yesIAmSure: opts.yesIAmSure,
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
  });
  if (opts.unmount && shown.mountpoints.length) {
    await reporter.step(`Unmounting ${shown.mountpoints.join(', ')}`, () => unmountAll(shown));
  }
  // Judge again from a fresh look: the user may have swapped sticks while reading the prompt, and
  // what was unmounted must now be gone.
  const fresh = await selectDrive(opts.drive, { ...policy, unmount: false });
  if (!sameDrive(shown, verdict, fresh.drive, fresh.verdict)) {
    throw new SafetyError(`${shown.path} changed since you confirmed; nothing was written.`, [], 'Run the command again and check the drive it shows.');
  }
  const drive = fresh.drive;
  const stop = stopOnSignals();
  let result: FlashResult;
  try {
    result = await reporter.step(`Writing and verifying ${drive.path}`, () =>
      flashImage({ image, drive, map, signal: stop.signal, onProgress: progressReporter(reporter) }),
    );
  } finally {
    stop.release();
  }
  const s = summary(drive, result);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  reporter.info(
    `Wrote ${formatBytes(result.bytesWritten)} of a ${formatBytes(result.imageSize)} image in ${formatMs(result.writeMs)} ` +
      `(${formatBytes(Number(s.writeBytesPerSecond))}/s), verified from the device in ${formatMs(result.verify.ms)}. ` +
      `sha256 ${result.verify.sha256}`,
  );
  reporter.info(`${drive.path} is ready to boot.`);
}
