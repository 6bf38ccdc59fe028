/** `flashroot drives`: every drive, and whether flashroot would write to it and why not. */
import { parseSize } from '../util/units.js';
import { preflight } from '../util/tools.js';
import { takeSnapshot } from './detect.js';
import { imageSize } from './image-map.js';
import { describeDrives } from './facts.js';
import { DEFAULT_MAX_SIZE, judge } from './policy.js';
import { drivesText } from './render.js';

export interface DrivesOptions {
  json?: boolean;
  image?: string;
  maxSize?: string;
  raw?: boolean;
}

export async function runDrives(opts: DrivesOptions): Promise<void> {
  await preflight(['lsblk']);
  const snapshot = await takeSnapshot();
  if (opts.raw) {
    process.stdout.write(`${JSON.stringify(snapshot, null, 2)}\n`);
    return;
  }
  const drives = describeDrives(snapshot);
  const policy = {
    maxSize: opts.maxSize === undefined ? DEFAULT_MAX_SIZE : parseSize(opts.maxSize, '--max-size'),
    imageSize: opts.image === undefined ? undefined : await imageSize(opts.image),
  };
  const verdicts = drives.map((d) => judge(d, policy));
  if (opts.json) {
    const out = drives.map((d, i) => ({ ...d, verdict: verdicts[i] }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${drivesText(drives, verdicts)}\n`);
}
