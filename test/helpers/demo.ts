/** Builds demo images for the tests through the same pipeline the CLI uses. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type BuildResult } from '../../src/pipeline/build.js';
import type { BuildOptionsInput } from '../../src/pipeline/options.js';
import { Reporter } from '../../src/util/log.js';

export async function buildDemo(opts: BuildOptionsInput = {}): Promise<BuildResult> {
  const dir = await mkdtemp(join(tmpdir(), 'flashroot-test-'));
  return build({ demo: true, out: join(dir, 'demo.img'), menuTimeout: 0, ...opts }, new Reporter(true));
}

/** The sha256 of a file, or of bytes [start, end) of it. */
export async function sha256(path: string, range?: { start: number; end: number }): Promise<string> {
  const h = createHash('sha256');
  const stream = range ? createReadStream(path, { start: range.start, end: range.end - 1 }) : createReadStream(path);
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Console text that means the boot went wrong; the boot stops early when it appears. */
export const BOOT_FAILURES = ['flashroot: FAIL', 'Kernel panic', 'end Kernel panic'];
