/**
 * The benchmark's own code path, small enough for the suite: flashroot only, the demo root as both
 * build and boot root, one build and one boot per firmware. It keeps `npm run bench` from rotting
 * (the full comparison needs chroots and an hour, so it is not part of npm test).
 */
import { describe, expect, it } from 'vitest';
import { runBench } from '../../bench/bench.js';
import { flashroot } from '../../bench/competitors/flashroot.js';
import { COLUMNS, renderReport, renderTable } from '../../bench/table.js';
import { Reporter } from '../../src/util/log.js';

const cells = (line: string) => line.slice(2, -2).split(' | ');
const seconds = (cell: string | undefined) => Number(/^([\d.]+) s$/.exec(cell ?? '')?.[1] ?? NaN);

describe('bench smoke (flashroot, demo root, 1 round)', () => {
  it('builds, boots under BIOS and UEFI with nothing written to the stick, and renders the table', async () => {
    const report = await runBench({ competitors: [flashroot()], boots: 1, builds: 1, buildRoot: 'demo', reporter: new Reporter(true) });
    const [tool] = report.tools;
    const problems = [...(tool?.errors ?? []), ...(tool?.boots.flatMap((b) => b.errors) ?? [])];
    expect(problems).toEqual([]);
    expect(report.done).toEqual({ builds: 1, boots: 1 });

    const [header, rule, ...rows] = renderTable(report).split('\n');
    expect(cells(header ?? '')).toEqual([...COLUMNS]);
    expect(cells(rule ?? '')).toEqual(COLUMNS.map(() => '---'));
    const byFirmware = new Map(rows.map((r) => [cells(r)[2], Object.fromEntries(COLUMNS.map((c, i) => [c, cells(r)[i]]))]));
    expect(rows.map((r) => cells(r)[0])).toEqual(['bare `mksquashfs` (reference)', 'flashroot', 'flashroot']);
    for (const firmware of ['BIOS', 'UEFI']) {
      const row = byFirmware.get(firmware);
      expect(row, `no ${firmware} row in\n${rows.join('\n')}`).toBeDefined();
      expect(row?.['Root from']).toBe('local lower');
      expect(row?.['initramfs (zstd)']).toMatch(/^\d+(\.\d)? MiB$/);
      expect(row?.['Build ÷ bare mksquashfs']).toMatch(/^\d+\.\d\d×$/);
      expect(row?.['Boot to root init']).toMatch(/^\d+(\.\d)? s$/);
      expect(row?.['initramfs phase']).toMatch(/^\d+(\.\d)? s$/);
      expect(seconds(row?.['initramfs phase'])).toBeLessThan(seconds(row?.['Boot to root init']));
      expect(row?.['/ mounted as']).toBe('overlay');
      expect(row?.['Written to stick']).toBe('0 B (1 boots)');
    }
    expect(byFirmware.get('BIOS')?.['Boot ÷ flashroot BIOS']).toBe('1.00×');
    expect(renderReport(report)).not.toContain('Partial results');
  }, 600_000);
});
