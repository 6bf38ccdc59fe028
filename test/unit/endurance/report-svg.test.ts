import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { comparisonLoads, estimate, type FlashSpec } from '../../../src/endurance/model.js';
import { projectDaily, savingRatio } from '../../../src/endurance/measurement.js';
import { renderTable, toJson } from '../../../src/endurance/report.js';
import { renderSvg } from '../../../src/endurance/svg.js';
import { run } from '../../../src/util/run.js';

const flash: FlashSpec = { capacityBytes: 32e9, nand: 'tlc', pageBytes: 16384, eraseBlockBytes: 4 * 2 ** 20 };
// A measured read-write root: 3 MB in 100 writes over 60 s → 3e6 × 86400 / 60 = 4.32e9 B/day.
const rwMeasured = projectDaily({ root: 'rw', workload: 'dd', seconds: 60, writeBytes: 3e6, writeOps: 100 });
// A measured overlay root: nothing on the stick, 2 MB of tmpfs growth → 2e6 × 1440 = 2.88e9 B/day of RAM.
const overlayMeasured = projectDaily({ root: 'overlay', workload: 'dd', seconds: 60, writeBytes: 0, writeOps: 0, upperBytes: 2e6 });
const loads = comparisonLoads({
  rwDailyBytes: rwMeasured.bytesPerDay, rwMeanWriteBytes: 30_000, rwSource: 'measured', overlayDailyBytes: 0, overlaySource: 'measured',
  imageBytes: 0, reflashEveryDays: 90, saveBytes: 64e6, saveEveryHours: 24,
});
const estimates = loads.map((l) => estimate(flash, l));

describe('projectDaily', () => {
  it('scales the window linearly to a day', () => {
    expect(rwMeasured.bytesPerDay).toBe(4.32e9);
    expect(overlayMeasured.bytesPerDay).toBe(0);
    expect(overlayMeasured.upperBytesPerDay).toBe(2.88e9);
  });
});

describe('renderTable', () => {
  const text = renderTable(flash, estimates, [rwMeasured, overlayMeasured]);
  it('shows each configuration with a lifetime range and what limits it', () => {
    expect(text).toContain('read-write root (ext4 + journal) [measured]');
    expect(text).toMatch(/flashroot overlay \(reflash never\) \[measured\]\s+0 B .*retention, not wear \(nothing written\)/);
    expect(text).toContain('4.32 GB');
  });
  it('reports what was measured, mean write size and RAM per day', () => {
    // mean write: 3e6 / 100 = 30 kB
    expect(text).toContain('3.00 MB in 100 write operations (mean 30.0 kB) → 4.32 GB/day');
    expect(text).toContain('tmpfs upper layer grew 2.00 MB → RAM needed 2.88 GB/day');
    expect(text).toContain('Saving: the overlay root wrote 0 B to the stick where the read-write root wrote some: the ratio is unbounded.');
  });
  it('gives the saving as a ratio when the overlay wrote something', () => {
    // rw 3e6 B ÷ overlay 1.5e5 B = 20
    const leaky = projectDaily({ root: 'overlay', workload: 'dd', seconds: 60, writeBytes: 1.5e5, writeOps: 3 });
    expect(savingRatio([rwMeasured, leaky])).toBe(20);
    expect(renderTable(flash, estimates, [rwMeasured, leaky])).toContain('wrote 20.0× as much to the stick as the overlay root');
    expect(savingRatio([rwMeasured])).toBeUndefined();
  });
});

describe('toJson', () => {
  it('is valid JSON with raw numbers and null for an unbounded lifetime', () => {
    const j = JSON.parse(toJson(flash, estimates, [rwMeasured, overlayMeasured])) as { savingRatio: unknown; configurations: { id: string; years: { low: number | null } }[] };
    expect(j.savingRatio).toBe('unbounded');
    expect(j.configurations.map((c) => c.id)).toEqual(['rw', 'overlay', 'overlay-save']);
    expect(j.configurations[1]!.years.low).toBeNull();
    expect(j.configurations[0]!.years.low).toBeGreaterThan(0);
  });
});

// A real XML parser (Python's expat via ElementTree) checks well-formedness and lists the points.
const LIST_POINTS = `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = '{http://www.w3.org/2000/svg}'
print(json.dumps({
  'tag': root.tag,
  'nand': [l.get('data-nand') for l in root.iter(ns + 'line') if l.get('class') == 'nand'],
  'points': [{'cls': g.get('class'), 'config': g.get('data-config'), 'bpd': g.get('data-bytes-per-day'),
              'circles': len(g.findall(ns + 'circle')), 'text': ''.join(g.itertext())} for g in root.iter(ns + 'g')],
}))
`;

describe('renderSvg', () => {
  it('is well-formed, has one line per NAND type and marks the measured point', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'endurance-svg-'));
    const file = join(dir, 'chart.svg');
    await writeFile(file, renderSvg(flash, estimates, 8));
    const parsed = JSON.parse((await run('python3', ['-c', LIST_POINTS, file])).stdout) as {
      tag: string;
      nand: string[];
      points: { cls: string; config: string; bpd: string; circles: number; text: string }[];
    };
    expect(parsed.tag).toBe('{http://www.w3.org/2000/svg}svg');
    expect(parsed.nand).toEqual(['slc', 'pslc', 'mlc', 'tlc', 'qlc']);
    const rw = parsed.points.find((p) => p.config === 'rw')!;
    expect(rw.cls).toBe('point measured');
    expect(Number(rw.bpd)).toBe(4.32e9);
    expect(rw.circles).toBe(1);
    expect(rw.text).toContain('rw (measured): 4.32 GB/day');
    const overlay = parsed.points.find((p) => p.config === 'overlay')!;
    expect(overlay.bpd).toBe('0');
    expect(overlay.text).toContain('retention-limited');
  });
  it('escapes text so a label cannot break the XML', () => {
    const odd = estimate(flash, { id: 'a<b&"c"', label: 'x', bytesPerDay: 1e9, meanWriteBytes: 4096, source: 'user' });
    const svg = renderSvg(flash, [odd], 8);
    expect(svg).toContain('a&#60;b&#38;&#34;c&#34;');
    expect(svg).not.toContain('a<b');
  });
});
