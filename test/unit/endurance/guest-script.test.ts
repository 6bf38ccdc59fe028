import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_WORKLOAD, guestScript, MARKER, parseMarkerLine, workloadSucceeded } from '../../../src/endurance/guest-script.js';
import { run } from '../../../src/util/run.js';

describe('guestScript', () => {
  it('is one command line after 64 losable blank lines, and its echo never contains a marker', () => {
    const text = guestScript('echo hi', 15);
    const lines = text.split('\n');
    // Two FIFO clears of 16 bytes each can drop at most 32 bytes; 64 newlines leave a margin.
    expect(lines.slice(0, 64).every((l) => l === '')).toBe(true);
    expect(lines[64]).toMatch(/^m=/);
    expect(lines.filter(Boolean)).toHaveLength(1);
    // The echo of the typed line must not look like an answer.
    expect(text).not.toContain(`${MARKER}-START`);
    expect(text).not.toContain(`${MARKER}-END`);
    expect(text).toContain('sleep 15;');
  });

  it('quotes the workload so the shell runs it as given', () => {
    expect(guestScript("echo 'it''s' > /tmp/x", 1)).toContain(`sh -c 'echo '\\''it'\\'''\\''s'\\'' > /tmp/x'`);
  });

  it('refuses a workload too long for the console line buffer', () => {
    expect(() => guestScript('x'.repeat(4000), 1)).toThrow(/at most 3000/);
  });

  it('runs in a real busybox sh and prints parseable markers', async () => {
    // Same script, on the host: a 1 s window around a workload that writes 3 bytes and ends (rc 0).
    const dir = await mkdtemp(join(tmpdir(), 'guest-script-'));
    const script = guestScript(`printf abc > ${dir}/out`, 1).replace('sleep 60; poweroff -f', 'true').replaceAll('sleep 2', 'true');
    const { stdout } = await run('busybox', ['sh', '-c', script]);
    const marks = stdout.split('\n').map(parseMarkerLine).filter(Boolean);
    // No tmpfs at /run/flashroot/rw on the host: upper is empty, as on a read-write root.
    expect(marks).toEqual([
      { kind: 'START', upperKiB: undefined, rc: undefined },
      { kind: 'END', upperKiB: undefined, rc: 0 },
    ]);
    expect(await readFile(join(dir, 'out'), 'utf8')).toBe('abc');
  });
});

describe('parseMarkerLine', () => {
  it('reads the upper layer use and the exit status', () => {
    expect(parseMarkerLine(`${MARKER}-START upper=0`)).toEqual({ kind: 'START', upperKiB: 0, rc: undefined });
    expect(parseMarkerLine(`junk ${MARKER}-END upper=1028 rc=143`)).toEqual({ kind: 'END', upperKiB: 1028, rc: 143 });
    expect(parseMarkerLine('/ # m=FLASHROOT-MEASURE; echo "$m-START upper=$(u)"')).toBeUndefined();
  });
  it('counts a finished or window-stopped workload as a success, anything else as a failure', () => {
    expect([0, 143, 127, 1, undefined].map(workloadSucceeded)).toEqual([true, true, false, false, false]);
  });
  it('has a default workload that writes inside the root', () => {
    expect(DEFAULT_WORKLOAD).toContain('/var/log/');
    expect(DEFAULT_WORKLOAD).toContain('sync');
  });
});
