/**
 * The emulated PC's screen and keyboard, over QMP: what a person at the box would see and type.
 * The screen is read from the VGA text buffer (SeaBIOS leaves the card in text mode and the
 * kernel's vgacon keeps it there), which gives characters rather than pixels to assert on.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlashrootError } from '../errors.js';
import type { QmpClient } from './qmp.js';

/** VGA text memory: 32 KiB of (character, attribute) cells, 80 to a row. */
const VGA_TEXT_BASE = 0xb8000;
const VGA_TEXT_BYTES = 0x8000;
const COLUMNS = 80;

/**
 * Every row of the VGA text buffer, trailing blanks trimmed. vgacon scrolls by moving the
 * visible origin through the whole 32 KiB window (rows stay 160-byte aligned), so the rows on
 * screen are among these, with some scrolled-off ones around them.
 */
export async function readVgaText(qmp: QmpClient): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'flashroot-vga-'));
  try {
    const file = join(dir, 'vga.bin');
    // QEMU writes the file itself, as the user it runs as (the same as ours).
    await qmp.execute('pmemsave', { val: VGA_TEXT_BASE, size: VGA_TEXT_BYTES, filename: file });
    return vgaRows(await readFile(file));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function vgaRows(mem: Buffer): string[] {
  const rows: string[] = [];
  for (let off = 0; off + COLUMNS * 2 <= mem.length; off += COLUMNS * 2) {
    let row = '';
    // Code page 437 above 0x7e (box drawing, accents) shows as '?': the assertions are on ASCII.
    for (let c = 0; c < COLUMNS; c++) {
      const ch = mem[off + c * 2] ?? 0;
      row += ch >= 0x20 && ch < 0x7f ? String.fromCharCode(ch) : ch === 0 ? ' ' : '?';
    }
    rows.push(row.trimEnd());
  }
  return rows;
}

/** qcodes of the US layout, the one QEMU's PS/2 keyboard and the kernel's default keymap share. */
const UNSHIFTED: Record<string, string> = { ' ': 'spc', '-': 'minus', '=': 'equal', '.': 'dot', '/': 'slash', ',': 'comma', ';': 'semicolon', "'": 'apostrophe', '\\': 'backslash', '[': 'bracket_left', ']': 'bracket_right', '`': 'grave_accent', '\n': 'ret' };
const SHIFTED: Record<string, string> = { '!': '1', '@': '2', '#': '3', $: '4', '%': '5', '^': '6', '&': '7', '*': '8', '(': '9', ')': '0', _: 'minus', '+': 'equal', '>': 'dot', '?': 'slash', '<': 'comma', ':': 'semicolon', '"': 'apostrophe', '|': 'backslash', '{': 'bracket_left', '}': 'bracket_right', '~': 'grave_accent' };

/** The keys pressed together for one character. */
export function keysFor(ch: string): string[] {
  if (/^[a-z0-9]$/.test(ch)) return [ch];
  if (/^[A-Z]$/.test(ch)) return ['shift', ch.toLowerCase()];
  const plain = UNSHIFTED[ch];
  if (plain) return [plain];
  const shifted = SHIFTED[ch];
  if (shifted) return ['shift', /^\d$/.test(shifted) ? shifted : (UNSHIFTED[shifted] ?? shifted)];
  throw new FlashrootError('EINPUT', `cannot type ${JSON.stringify(ch)} on the emulated keyboard`, { hint: 'type ASCII letters, digits, punctuation, space or newline' });
}

/** Types `text` on the emulated keyboard, one key chord at a time, as a person would. */
export async function typeOnKeyboard(qmp: QmpClient, text: string): Promise<void> {
  const chords = [...text].map(keysFor);
  for (const keys of chords) {
    await qmp.execute('send-key', { keys: keys.map((k) => ({ type: 'qcode', data: k })), 'hold-time': 40 });
    // send-key returns before the release; let the key come up before the next one goes down.
    await sleep(70);
  }
}
