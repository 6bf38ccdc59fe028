/**
 * Runs pieces of the generated /init under busybox sh without booting: the init is sourced with
 * its main disabled, then a script calls its functions, with commands stubbed as shell functions.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleInit, loadFragments, renderDefaults, type InitDefaults, type InitScript } from '../../src/initramfs/init-script.js';
import { run } from '../../src/util/run.js';

export const TEST_DEFAULTS: InitDefaults = {
  label: 'FLASHROOT',
  uuid: '',
  lower: 'local',
  sqfs: '/live/root.sqfs',
  sqfsSha256: 'ab'.repeat(32),
  size: '50%',
  toram: '',
  verify: false,
  onfail: 'shell',
  debug: false,
  timeout: 30,
  breakAt: '',
  init: '/sbin/init',
  kmods: '',
  slotsFile: '',
  confirmAfter: 60,
  modules: ['loop', 'squashfs'],
  drivers: ['usb_storage'],
  stickDrivers: '',
};

export interface InitSandbox {
  dir: string;
  init: InitScript;
  /** Sources the init, applies `defaults`, runs `script`; resolves with its output and exit code. */
  run(script: string, defaults?: Partial<InitDefaults>): Promise<{ stdout: string; stderr: string; exitCode: number }>;
}

export async function initSandbox(): Promise<InitSandbox> {
  const init = assembleInit(await loadFragments());
  const dir = await mkdtemp(join(tmpdir(), 'init-'));
  await writeFile(join(dir, 'init'), init.text);
  let n = 0;
  return {
    dir,
    init,
    async run(script, defaults = {}) {
      const conf = join(dir, `flashroot-${n++}.conf`);
      await writeFile(conf, renderDefaults({ ...TEST_DEFAULTS, ...defaults }));
      return run('busybox', ['sh', '-c', `. ${dir}/init\n${script}`], {
        env: { FLASHROOT_INIT_NO_MAIN: '1', FLASHROOT_CONF: conf },
        okExitCodes: [1, 2, 3, 42],
        timeoutMs: 20_000,
      });
    },
  };
}
