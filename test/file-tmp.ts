/**
 * A scratch directory for each test file, inside the run's (test/global-tmp.ts) and named after the
 * file, removed when the file ends: files that build sticks, roots and QEMU disks would otherwise
 * hold their scratch until the whole run ends, and the sum (15 GB) outgrew a CI machine's free
 * disk. FLASHROOT_KEEP_TMP=1 keeps it.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, expect } from 'vitest';

const run = process.env.FLASHROOT_TESTS_TMP;
if (!run) throw new Error('FLASHROOT_TESTS_TMP is unset: test/global-tmp.ts sets it; run the tests through vitest');
const dir = mkdtempSync(join(run, `${basename(expect.getState().testPath ?? 'file', '.test.ts')}-`));
chmodSync(dir, 0o1777);
process.env.TMPDIR = dir;

// Registered before the file's own hooks, so it runs after them (vitest runs after-hooks as a stack):
// the file's servers and boots have ended by then.
afterAll(() => {
  if (process.env.FLASHROOT_KEEP_TMP !== '1') rmSync(dir, { recursive: true, force: true });
});
