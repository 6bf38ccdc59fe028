import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assembleInit, loadFragments, parseFragment, renderDefaults, type InitDefaults, type InitScript } from '../../../src/initramfs/init-script.js';
import { run } from '../../../src/util/run.js';

const defaults: InitDefaults = {
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
  modules: ['loop', 'squashfs'],
};

let init: InitScript;
let dir: string;

beforeAll(async () => {
  init = assembleInit(await loadFragments());
  dir = await mkdtemp(join(tmpdir(), 'init-'));
  await writeFile(join(dir, 'init'), init.text);
  await writeFile(join(dir, 'flashroot.conf'), renderDefaults(defaults));
});

/** Sources the generated init under busybox sh without running its main, then runs `script`. */
async function sourced(script: string, env: Record<string, string> = {}) {
  return run('busybox', ['sh', '-c', `. ${dir}/init\n${script}`], {
    env: { FLASHROOT_INIT_NO_MAIN: '1', FLASHROOT_CONF: join(dir, 'flashroot.conf'), ...env },
    okExitCodes: [1, 2, 3],
  });
}

describe('init assembly', () => {
  it('orders the steps by fragment number and collects the module groups they need', () => {
    expect(init.steps).toEqual(['pseudofs', 'cmdline', 'modules', 'medium', 'lower', 'overlay', 'switch_root']);
    expect(init.moduleGroups).toEqual(['fs', 'input', 'storage']);
    expect(init.text.startsWith('#!/bin/sh\n')).toBe(true);
  });

  it('is shellcheck clean as assembled', async () => {
    const r = await run('shellcheck', ['-s', 'sh', '-S', 'warning', join(dir, 'init')], { okExitCodes: [1] });
    expect(r.stdout).toBe('');
  });

  it('rejects badly named fragments and duplicate steps', () => {
    expect(() => parseFragment('lower.sh', '')).toThrow(/NN-name\.sh/);
    const a = parseFragment('10-a.sh', 'fr_step_x() {\n\t:\n}\n');
    const b = parseFragment('20-b.sh', 'fr_step_x() {\n\t:\n}\n');
    expect(() => assembleInit([a, b])).toThrow(/same step/);
  });

  it('quotes baked defaults so odd values survive the shell', async () => {
    await writeFile(join(dir, 'odd.conf'), renderDefaults({ ...defaults, init: "/sbin/it's init" }));
    const r = await sourced('echo "$FR_INIT"', { FLASHROOT_CONF: join(dir, 'odd.conf') });
    expect(r.stdout.trim()).toBe("/sbin/it's init");
  });
});

describe('init: kernel command line', () => {
  it('keeps the baked defaults when the command line says nothing', async () => {
    const r = await sourced('fr_parse_cmdline "console=ttyS0 quiet"; echo "$FR_LABEL|$FR_LOWER|$FR_SIZE|$FR_ONFAIL|$FR_TIMEOUT|$FR_MODULES"');
    expect(r.stdout.trim()).toBe('FLASHROOT|local|50%|shell|30|loop squashfs');
  });

  it('lets flashroot.KEY=VALUE override them, lists and flags included', async () => {
    const r = await sourced(
      'fr_parse_cmdline "flashroot.label=OTHER flashroot.size=25% flashroot.timeout=5 flashroot.break=premount,preswitch flashroot.debug flashroot.onfail=poweroff flashroot.modules=e1000,fuse"; echo "$FR_LABEL|$FR_SIZE|$FR_TIMEOUT|$FR_BREAK|$FR_DEBUG|$FR_ONFAIL|$FR_MODULES"',
    );
    expect(r.stdout.trim()).toBe('OTHER|25%|5|premount preswitch|1|poweroff|loop squashfs e1000 fuse');
  });

  it('reports unknown keys and bad values instead of ignoring them', async () => {
    const r = await sourced('fr_parse_cmdline "flashroot.lable=X flashroot.timeout=soon flashroot.onfail=reboot"; echo "$FR_LABEL|$FR_TIMEOUT|$FR_ONFAIL"');
    expect(r.stdout).toContain("unknown parameter 'flashroot.lable=X' ignored");
    expect(r.stdout).toContain('flashroot.timeout=soon is not a number of seconds; using 30');
    expect(r.stdout).toContain('flashroot.onfail=reboot is not shell|poweroff; using shell');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('FLASHROOT|30|shell');
  });

  it('treats flashroot.shell as onfail=shell', async () => {
    const conf = join(dir, 'poweroff.conf');
    await writeFile(conf, renderDefaults({ ...defaults, onfail: 'poweroff' }));
    const r = await sourced('fr_parse_cmdline "flashroot.shell"; echo "$FR_ONFAIL"', { FLASHROOT_CONF: conf });
    expect(r.stdout.trim()).toBe('shell');
  });
});
