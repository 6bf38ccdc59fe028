/**
 * A PC with a screen and a keyboard: a boot that fails must say so on the screen, and the rescue
 * shell must answer the keyboard, while the serial line keeps everything and has its own shell.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { bootImage } from '../../src/qemu/boot.js';
import { QmpClient } from '../../src/qemu/qmp.js';
import { readVgaText, typeOnKeyboard } from '../../src/qemu/screen.js';
import { buildDemo } from '../helpers/demo.js';

const FAIL_LINE = 'flashroot: FAIL medium: no device with LABEL=NOPE after 3s';

/** Polls the screen until a row matches, or gives up after `ms`. */
async function screenShows(qmp: QmpClient, match: (row: string) => boolean, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const rows = await readVgaText(qmp);
    if (rows.some(match) || Date.now() > deadline) return rows;
    await sleep(300);
  }
}

describe('every console is a console', () => {
  it('a wrong label: the FAIL line is on the screen, the keyboard reaches a shell, the serial line has its own', async () => {
    const built = await buildDemo({ boot: 'bios', cmdline: 'flashroot.label=NOPE flashroot.timeout=3' });
    const qmpSocket = join(await mkdtemp(join(tmpdir(), 'flashroot-qmp-')), 'qmp.sock');
    let screenAtFail: string[] = [];
    let screenAfterTyping: string[] = [];
    let driving: Promise<void> | undefined;
    const r = await bootImage({
      image: built.image,
      qmpSocket,
      extraArgs: ['-vga', 'std'],
      expect: 'serial-42',
      timeoutSec: 240,
      graceMs: 0,
      onLine: (line, typeOnSerial) => {
        if (driving || !line.includes("flashroot: type 'exit' to power off")) return;
        driving = (async () => {
          const qmp = await QmpClient.connect(qmpSocket);
          try {
            screenAtFail = await screenShows(qmp, (row) => row.startsWith(FAIL_LINE), 5000);
            // Give the shells a moment to start reading their ttys.
            await sleep(1000);
            // Arithmetic the shell must do, so the echo of our typing cannot match.
            await typeOnKeyboard(qmp, 'echo typed-$((6*7))\n');
            screenAfterTyping = await screenShows(qmp, (row) => row === 'typed-42', 10_000);
          } finally {
            qmp.close();
          }
          typeOnSerial('echo serial-$((6*7))\n');
        })();
      },
    });
    await driving;
    const serial = r.console.join('\n');
    expect(screenAtFail.some((row) => row.startsWith(FAIL_LINE)), screenAtFail.join('\n')).toBe(true);
    expect(screenAtFail).toContain("flashroot: rescue shell (boot failed at step 'medium')");
    expect(screenAfterTyping, screenAfterTyping.join('\n')).toContain('typed-42');
    // The serial line saw the same failure and answered its own typing; the screen's typing stayed on the screen.
    expect(serial).toContain(FAIL_LINE);
    expect(r.matched, serial).toBe(true);
    expect(serial).not.toMatch(/^typed-42$/m);
    expect(serial).not.toMatch(/Kernel panic/);
  });
});
