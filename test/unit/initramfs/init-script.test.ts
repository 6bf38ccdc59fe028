import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assembleInit, parseFragment, type InitScript } from '../../../src/initramfs/init-script.js';
import { run } from '../../../src/util/run.js';
import { initSandbox, type InitSandbox } from '../../helpers/init-sandbox.js';

let init: InitScript;
let sandbox: InitSandbox;

beforeAll(async () => {
  sandbox = await initSandbox();
  init = sandbox.init;
});

describe('init assembly', () => {
  it('orders the steps by fragment number and collects the module groups they need', () => {
    expect(init.steps).toEqual(['pseudofs', 'consoles', 'cmdline', 'modules', 'medium', 'slot', 'network', 'channel', 'kmods', 'lower', 'channel_floor', 'channel_copy', 'overlay', 'saves', 'system_tools', 'switch_root']);
    expect(init.moduleGroups).toEqual(['fs', 'input', 'storage']);
    expect(init.text.startsWith('#!/bin/sh\n')).toBe(true);
  });

  it('is shellcheck clean as assembled', async () => {
    const r = await run('shellcheck', ['-s', 'sh', '-S', 'warning', join(sandbox.dir, 'init')], { okExitCodes: [1] });
    expect(r.stdout).toBe('');
  });

  it('rejects badly named fragments and duplicate steps', () => {
    expect(() => parseFragment('lower.sh', '')).toThrow(/NN-name\.sh/);
    const a = parseFragment('10-a.sh', 'fr_step_x() {\n\t:\n}\n');
    const b = parseFragment('20-b.sh', 'fr_step_x() {\n\t:\n}\n');
    expect(() => assembleInit([a, b])).toThrow(/same step/);
  });

  it('quotes baked defaults so odd values survive the shell', async () => {
    const r = await sandbox.run('echo "$FR_INIT"', { init: "/sbin/it's init" });
    expect(r.stdout.trim()).toBe("/sbin/it's init");
  });
});

describe('init: kernel command line', () => {
  it('keeps the baked defaults when the command line says nothing', async () => {
    const r = await sandbox.run('fr_parse_cmdline "console=ttyS0 quiet"; echo "$FR_LABEL|$FR_LOWER|$FR_SIZE|$FR_ONFAIL|$FR_TIMEOUT|$FR_MODULES"');
    expect(r.stdout.trim()).toBe('FLASHROOT|local|50%|shell|30|loop squashfs');
  });

  it('lets flashroot.KEY=VALUE override them, lists and flags included', async () => {
    const r = await sandbox.run(
      'fr_parse_cmdline "flashroot.label=OTHER flashroot.size=25% flashroot.timeout=5 flashroot.break=premount,preswitch flashroot.debug flashroot.onfail=poweroff flashroot.modules=e1000,fuse"; echo "$FR_LABEL|$FR_SIZE|$FR_TIMEOUT|$FR_BREAK|$FR_DEBUG|$FR_ONFAIL|$FR_MODULES"',
    );
    expect(r.stdout.trim()).toBe('OTHER|25%|5|premount preswitch|1|poweroff|loop squashfs e1000 fuse');
  });

  it('reports unknown keys and bad values instead of ignoring them', async () => {
    const r = await sandbox.run('fr_parse_cmdline "flashroot.lable=X flashroot.timeout=soon flashroot.onfail=reboot"; echo "$FR_LABEL|$FR_TIMEOUT|$FR_ONFAIL"');
    expect(r.stdout).toContain("unknown parameter 'flashroot.lable=X' ignored");
    expect(r.stdout).toContain('flashroot.timeout=soon is not a number of seconds; using 30');
    expect(r.stdout).toContain('flashroot.onfail=reboot is not shell|poweroff; using shell');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('FLASHROOT|30|shell');
  });

  it('keeps the baked upper size when flashroot.size= is not one build would accept', async () => {
    for (const bad of ['200%', '0', '0%', 'lots', '5%5', '1G2', '-1M', '']) {
      const r = await sandbox.run(`fr_parse_cmdline "flashroot.size=${bad}"; echo "$FR_SIZE"`, { size: '512M' });
      expect(r.stdout, bad).toContain(`flashroot.size=${bad} is not a size like 512M or 1-100% of RAM; using 512M`);
      expect(r.stdout.trim().split('\n').at(-1), bad).toBe('512M');
    }
    for (const good of ['100%', '1%', '25%', '768M', '2g', '65536k', '1048576']) {
      const r = await sandbox.run(`fr_parse_cmdline "flashroot.size=${good}"; echo "$FR_SIZE"`, { size: '512M' });
      expect(r.stdout.trim(), good).toBe(good);
    }
  });

  it('treats flashroot.shell as onfail=shell', async () => {
    const r = await sandbox.run('fr_parse_cmdline "flashroot.shell"; echo "$FR_ONFAIL"', { onfail: 'poweroff' });
    expect(r.stdout.trim()).toBe('shell');
  });
});
