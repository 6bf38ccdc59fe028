import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initSandbox, type InitSandbox } from '../../helpers/init-sandbox.js';

let sb: InitSandbox;
beforeAll(async () => {
  sb = await initSandbox();
});

/** A stand-in /sys and /dev: console/active lists NAMES, tty0 fronts tty1, and each tty's type. */
async function fakeMachine(active: string, types: Record<string, string>, devs: string[]): Promise<{ sys: string; dev: string }> {
  const root = await mkdtemp(join(tmpdir(), 'consoles-'));
  const sys = join(root, 'sys');
  const dev = join(root, 'dev');
  await mkdir(join(sys, 'class/tty/console'), { recursive: true });
  await mkdir(join(sys, 'class/tty/tty0'), { recursive: true });
  await mkdir(dev);
  await writeFile(join(sys, 'class/tty/console/active'), `${active}\n`);
  await writeFile(join(sys, 'class/tty/tty0/active'), 'tty1\n');
  for (const [name, type] of Object.entries(types)) {
    await mkdir(join(sys, 'class/tty', name), { recursive: true });
    await writeFile(join(sys, 'class/tty', name, 'type'), `${type}\n`);
  }
  for (const d of devs) await writeFile(join(dev, d), '');
  return { sys, dev };
}

describe('init: every console is a console', () => {
  it('finds the screen (tty0 resolved to the VT in front) and the serial line', async () => {
    const m = await fakeMachine('tty0 ttyS0', { ttyS0: '4' }, ['tty1', 'ttyS0']);
    const r = await sb.run(`FR_SYS=${m.sys} FR_DEV=${m.dev}; fr_find_consoles`);
    expect(r.stdout.trim()).toBe(`${m.dev}/tty1 ${m.dev}/ttyS0`);
  });

  it('leaves out a serial console with no UART behind it, and names given twice', async () => {
    const m = await fakeMachine('ttyS0 tty0 tty1', { ttyS0: '0' }, ['tty1', 'ttyS0']);
    const r = await sb.run(`FR_SYS=${m.sys} FR_DEV=${m.dev}; fr_find_consoles`);
    expect(r.stdout.trim()).toBe(`${m.dev}/tty1`);
  });

  it('writes progress, warnings and FAIL lines to each console, not to stdout', async () => {
    const m = await fakeMachine('tty0 ttyS0', { ttyS0: '4' }, ['tty1', 'ttyS0']);
    const r = await sb.run(`FR_SYS=${m.sys} FR_DEV=${m.dev}
sync() { :; }; poweroff() { exit 42; }
FR_DEBUG=1 fr_step_consoles
fr_parse_cmdline "flashroot.bogus=1"
fr_log "toram: copying 12 MiB to RAM"
FR_ONFAIL=poweroff fr_fail medium "no device with LABEL=NOPE after 2s" "plug the stick in"`);
    expect(r.exitCode).toBe(42);
    expect(r.stdout).toBe('');
    for (const tty of ['tty1', 'ttyS0']) {
      const text = await readFile(join(m.dev, tty), 'utf8');
      expect(text).toContain(`flashroot: debug: consoles: ${m.dev}/tty1 ${m.dev}/ttyS0`);
      expect(text).toContain("flashroot: warning: unknown parameter 'flashroot.bogus=1' ignored");
      expect(text).toContain('flashroot: toram: copying 12 MiB to RAM');
      expect(text).toContain('flashroot: FAIL medium: no device with LABEL=NOPE after 2s — plug the stick in');
      expect(text).toContain('flashroot: powering off');
    }
  });

  it('opens a shell on each console; the first to exit continues the boot and the others are killed', async () => {
    const m = await fakeMachine('tty0 ttyS0', { ttyS0: '4' }, ['tty1', 'ttyS0']);
    // What "the person types" on each console; a stub setsid runs it as the shell would.
    await writeFile(join(m.dev, 'tty1'), 'sleep 1; echo screen-shell-survived\n');
    await writeFile(join(m.dev, 'ttyS0'), 'echo serial-$((6*7))\n');
    const r = await sb.run(`FR_SYS=${m.sys} FR_DEV=${m.dev}
setsid() { exec sh -c "$(grep -v '^flashroot:')"; }
fr_step_consoles
fr_break_point premount
FR_BREAK=premount fr_break_point premount
echo "boot continues"
sleep 1.5`);
    expect(r.stdout).toBe('boot continues\n');
    const serial = await readFile(join(m.dev, 'ttyS0'), 'utf8');
    const screen = await readFile(join(m.dev, 'tty1'), 'utf8');
    for (const text of [serial, screen]) {
      expect(text).toContain("flashroot: break point 'premount' (flashroot.break=premount)");
      expect(text).toContain("flashroot: type 'exit' to continue booting");
      expect(text).toContain('flashroot: shell closed; continue booting');
    }
    expect(serial).toMatch(/^serial-42$/m);
    // The screen's shell was still sleeping when the serial one exited: killed, it never printed.
    expect(screen).not.toMatch(/^screen-shell-survived$/m);
  });
});
