/**
 * The init's slot step (overlays/init/42-slot.sh) and flashroot-confirm, run under busybox sh on a
 * stand-in for the stick's FAT (a directory): which boot writes what, and what each one says.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { grubCfg } from '../../../src/boot/shim.js';
import { renderSyslinuxCfg } from '../../../src/boot/syslinux.js';
import { SLOT_STATE_PATH, slotManifestPath, type SlotId } from '../../../src/stick/paths.js';
import { parseState, renderState, type SlotState } from '../../../src/stick/slots.js';
import { run } from '../../../src/util/run.js';
import { initSandbox, type InitSandbox } from '../../helpers/init-sandbox.js';

const CONFIRM = join(import.meta.dirname, '../../../overlays/system/bin/flashroot-confirm');
const menu = { name: 'demo', cmdline: 'console=ttyS0', rescueCmdline: 'flashroot.shell', timeoutSeconds: 0 };

let sb: InitSandbox;
beforeAll(async () => {
  sb = await initSandbox();
});

/** A stick's FAT as a directory: state, both manifests, syslinux and grub configs booting `def`. */
async function medium(state: SlotState, def: SlotId): Promise<string> {
  const dir = await mkdtemp(join(sb.dir, 'medium-'));
  await mkdir(join(dir, 'live'));
  await mkdir(join(dir, 'syslinux'));
  await mkdir(join(dir, 'EFI/BOOT'), { recursive: true });
  await writeFile(join(dir, SLOT_STATE_PATH), renderState(state));
  for (const s of ['a', 'b'] as const) await writeFile(join(dir, slotManifestPath(s)), `{\n  "flashroot": 1,\n  "release": "v-${s}",\n  "slot": "${s}"\n}\n`);
  await writeFile(join(dir, 'syslinux/syslinux.cfg'), await renderSyslinuxCfg(menu, def));
  await writeFile(join(dir, 'EFI/BOOT/grub.cfg'), grubCfg(menu, def));
  return dir;
}

const firstLine = async (dir: string, p: string) => (await readFile(join(dir, p), 'utf8')).split('\n')[0];

async function boot(dir: string, slot: SlotId) {
  const r = await sb.run(
    `mount() { echo "MOUNT $*"; }
sync() { :; }
reboot() { echo "REBOOT $*"; exit 42; }
FR_MEDIUM_MNT=${dir}; FR_MEDIUM_DEV=/dev/sda1; FR_SLOT_CONF=${dir}/slot.conf
fr_parse_cmdline "console=ttyS0 flashroot.slot=${slot}"
fr_step_slot
echo "UNITS:$FR_SYSTEM_UNITS DAEMONS:$FR_SYSTEM_DAEMONS"`,
    { slotsFile: SLOT_STATE_PATH },
  );
  return { ...r, state: parseState(await readFile(join(dir, SLOT_STATE_PATH))), syslinux: await firstLine(dir, 'syslinux/syslinux.cfg'), grub: await firstLine(dir, 'EFI/BOOT/grub.cfg') };
}

describe('init: slots', () => {
  it('an ordinary boot of the current slot writes nothing and mounts nothing read-write', async () => {
    const dir = await medium({ current: 'a', tries: 0, of: 0 }, 'a');
    const before = await readFile(join(dir, SLOT_STATE_PATH));
    const r = await boot(dir, 'a');
    expect(r.stdout).toContain('flashroot: slot a (v-a)');
    expect(r.stdout).not.toContain('MOUNT');
    expect(await readFile(join(dir, SLOT_STATE_PATH))).toEqual(before);
    expect(r.stdout).toContain('UNITS: DAEMONS:');
  });

  it('a trial boot counts one try down in place (same 512 bytes), says so, and asks the booted system to confirm', async () => {
    const dir = await medium({ current: 'a', trial: 'b', tries: 3, of: 3 }, 'b');
    const r = await boot(dir, 'b');
    expect(r.state).toEqual({ current: 'a', trial: 'b', tries: 2, of: 3 });
    expect((await readFile(join(dir, SLOT_STATE_PATH))).length).toBe(512);
    expect(r.stdout).toContain('flashroot: slot b (v-b) on trial: boot 1 of 3; unless it confirms it came up, slot a (v-a) boots again');
    expect(r.stdout).toMatch(/MOUNT -o remount,rw .*\nMOUNT -o remount,ro /);
    expect(r.stdout).toContain('UNITS: flashroot-confirm.service DAEMONS: flashroot-confirm-daemon');
    expect(await readFile(join(dir, 'slot.conf'), 'utf8')).toContain("FR_SLOT='b'");
  });

  it('a trial out of tries points every loader back to the current slot and reboots, saying why', async () => {
    const dir = await medium({ current: 'a', trial: 'b', tries: 0, of: 2 }, 'b');
    const r = await boot(dir, 'b');
    expect(r.stdout).toContain('flashroot: slot b (v-b) did not come up after 2 tries: going back to slot a (v-a)');
    expect(r.stdout).toContain('REBOOT -f');
    expect([r.syslinux, r.grub]).toEqual(['DEFAULT slot-a', 'set default=slot-a']);
    expect(r.state).toEqual({ current: 'a', trial: 'b', tries: 0, of: 2 });
    // The next boot, of slot a, says it on every boot without writing.
    const again = await boot(dir, 'a');
    expect(again.stdout).toContain('flashroot: slot b (v-b) did not come up after 2 tries; running slot a (v-a)');
    expect(again.stdout).not.toContain('MOUNT');
  });

  it('a slot picked by hand while another is on trial boots without writing', async () => {
    const dir = await medium({ current: 'a', trial: 'b', tries: 3, of: 3 }, 'b');
    const r = await boot(dir, 'a');
    expect(r.stdout).toContain('flashroot: slot b is on trial (3 of 3 tries left) but slot a was booted; nothing written');
    expect(r.stdout).not.toContain('MOUNT');
    expect(r.state.tries).toBe(3);
  });

  it('an unreadable state boots without writing and says how to set it', async () => {
    const dir = await medium({ current: 'a', tries: 0, of: 0 }, 'a');
    await writeFile(join(dir, SLOT_STATE_PATH), 'garbage\n');
    const r = await boot(dir, 'a').catch(() => undefined);
    expect(r).toBeUndefined(); // parseState refuses it on the TypeScript side too
    const out = await sb.run(`mount() { echo MOUNT; }\nFR_MEDIUM_MNT=${dir}; FR_MEDIUM_DEV=/dev/sda1; FR_SLOT_CONF=${dir}/slot.conf\nfr_step_slot`, { slotsFile: SLOT_STATE_PATH });
    expect(out.stdout).toContain('warning: the slot state /live/slots is missing or unreadable; booting slot ? without writing');
    expect(out.stdout).not.toContain('MOUNT');
  });
});

describe('flashroot-confirm', () => {
  async function confirm(state: SlotState, slot: SlotId) {
    const dir = await medium(state, slot);
    const runDir = await mkdtemp(join(sb.dir, 'run-'));
    await mkdir(join(runDir, 'bin'));
    await writeFile(join(runDir, 'bin/mount'), '#!/bin/sh\necho "MOUNT $*"\n', { mode: 0o755 });
    await writeFile(join(runDir, 'mounts'), `/dev/sda1 ${runDir}/medium vfat ro 0 0\n`);
    await run('ln', ['-s', dir, join(runDir, 'medium')]);
    // What the init's slot step writes for it (fr_slot_export), through the same function.
    await sb.run(`FR_SLOT=${slot}; FR_MEDIUM_DEV=/dev/sda1; FR_SLOT_CONF=${runDir}/slot.conf; fr_slot_export`, { slotsFile: SLOT_STATE_PATH });
    const r = await run('busybox', ['sh', CONFIRM], { env: { FLASHROOT_RUN: runDir, FLASHROOT_MOUNTS: join(runDir, 'mounts'), FLASHROOT_MOUNT: join(runDir, 'bin/mount') }, okExitCodes: [1] });
    return { ...r, state: parseState(await readFile(join(dir, SLOT_STATE_PATH))), sector: await readFile(join(dir, SLOT_STATE_PATH)) };
  }

  it('makes the slot on trial the current one, writing the state line in place', async () => {
    const r = await confirm({ current: 'a', trial: 'b', tries: 1, of: 3 }, 'b');
    expect(r.stdout).toContain('flashroot-confirm: slot b came up and is the current slot now; slot a is the fallback');
    expect(r.state).toEqual({ current: 'b', tries: 0, of: 0 });
    expect(r.sector).toEqual(renderState({ current: 'b', tries: 0, of: 0 }));
    expect(r.stdout).toMatch(/MOUNT -o remount,rw .*\nMOUNT -o remount,ro /);
  });

  it('leaves a slot that is not on trial alone', async () => {
    const r = await confirm({ current: 'a', tries: 0, of: 0 }, 'a');
    expect(r.stdout).toContain('slot a is not on trial (current slot a); nothing to confirm');
    expect(r.stdout).not.toContain('MOUNT');
  });
});

describe('init: a failure on trial', () => {
  it('sends the box back to the current slot instead of a rescue shell, and ends the trial', async () => {
    const dir = await medium({ current: 'a', trial: 'b', tries: 3, of: 3 }, 'b');
    const r = await sb.run(
      `mount() { echo "MOUNT $*"; }
grep() { return 0; }
sync() { :; }
reboot() { echo "REBOOT $*"; exit 42; }
fr_shell() { echo "SHELL: $1"; }
FR_MEDIUM_MNT=${dir}; FR_MEDIUM_DEV=/dev/sda1; FR_SLOT_CONF=${dir}/slot.conf
fr_parse_cmdline "flashroot.slot=b"
fr_step_slot
fr_fail switch_root "the root has no executable /sbin/init" "hint"`,
      { slotsFile: SLOT_STATE_PATH },
    );
    expect(r.stdout).toContain('flashroot: FAIL switch_root: the root has no executable /sbin/init — hint');
    expect(r.stdout).toContain("flashroot: slot b (v-b) failed at step 'switch_root' on trial: going back to slot a (v-a)");
    expect(r.stdout).toContain('REBOOT -f');
    expect(r.stdout).not.toContain('SHELL');
    expect(parseState(await readFile(join(dir, SLOT_STATE_PATH)))).toEqual({ current: 'a', trial: 'b', tries: 0, of: 3 });
    expect(await firstLine(dir, 'syslinux/syslinux.cfg')).toBe('DEFAULT slot-a');
  });
});
