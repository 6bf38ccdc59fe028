/**
 * One temporary directory for the whole run, removed at its end: tests (and the tools and QEMU
 * they start) make their scratch directories under os.tmpdir(). FLASHROOT_KEEP_TMP=1 keeps it, to
 * look at what a failed test left.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'flashroot-tests-'));
  // As /tmp is: tests run some programs as another user (nobody), which need a temporary directory too.
  chmodSync(dir, 0o1777);
  // Read by os.tmpdir() in the test workers, which inherit this environment; test/file-tmp.ts
  // gives each test file a directory of its own inside it.
  process.env.TMPDIR = dir;
  process.env.FLASHROOT_TESTS_TMP = dir;
  return () => {
    if (process.env.FLASHROOT_KEEP_TMP === '1') process.stdout.write(`kept the tests' temporary files in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  };
}
