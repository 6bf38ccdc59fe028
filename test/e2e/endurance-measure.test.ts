/**
 * Measured mode end to end: build the demo stick, boot it twice in QEMU (overlay root, then the same
 * root as read-write ext4), write 1 MiB inside the root, and read what reached the stick.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Measurement } from '../../src/endurance/measurement.js';
import { run } from '../../src/util/run.js';
import { buildDemo, sha256 } from '../helpers/demo.js';

const MiB = 2 ** 20;
// 256 × 4 KiB = 1 MiB of file data, fsync'd: on a read-write root all of it must reach the stick.
const WORKLOAD = 'dd if=/dev/urandom of=/root/endurance-test bs=4k count=256 conv=fsync';
const WINDOW_SECONDS = 15;

interface Report {
  configurations: { id: string; bytesPerDay: number; source: string; years: { low: number | null } }[];
  savingRatio: number | 'unbounded' | null;
  measurements: Measurement[];
}

let report: Report;
let svgPoints: { config: string; cls: string; bpd: string }[];
let image: string;
let hashBefore: string;

beforeAll(async () => {
  image = (await buildDemo({ boot: 'hybrid' })).image;
  hashBefore = await sha256(image);
  const svg = join(await mkdtemp(join(tmpdir(), 'endurance-e2e-')), 'chart.svg');
  const { stdout } = await run(process.execPath, ['bin/flashroot.js', 'endurance', '--capacity', '32G', '--nand', 'tlc', '--measure', image,
    '--workload', WORKLOAD, '--minutes', String(WINDOW_SECONDS / 60), '--json', '--svg', svg], { timeoutMs: 900_000 });
  report = JSON.parse(stdout) as Report;
  const points = await run('python3', ['-c', `
import json, sys, xml.etree.ElementTree as ET
ns = '{http://www.w3.org/2000/svg}'
print(json.dumps([{'config': g.get('data-config'), 'cls': g.get('class'), 'bpd': g.get('data-bytes-per-day')}
                  for g in ET.parse(sys.argv[1]).getroot().iter(ns + 'g')]))`, svg]);
  svgPoints = JSON.parse(points.stdout) as typeof svgPoints;
}, 900_000);

const measured = (root: string) => report.measurements.find((m) => m.root === root)!;

describe('endurance --measure on the demo stick', () => {
  it('overlay root: zero bytes reach the stick; the 1 MiB lands in the tmpfs upper layer', () => {
    const m = measured('overlay');
    expect(m.writeBytes).toBe(0);
    expect(m.writeOps).toBe(0);
    // The file (1 MiB) plus a directory entry and inode in tmpfs pages: between 1 and 2 MiB.
    expect(m.upperBytes).toBeGreaterThanOrEqual(1 * MiB);
    expect(m.upperBytes).toBeLessThan(2 * MiB);
  });

  it('read-write root: the 1 MiB and the ext4 journal reach the stick', () => {
    const m = measured('rw');
    // At least the file data; at most data + journal copies of a few metadata blocks (inode, bitmaps,
    // extent, directory: tens of KiB twice) with a wide margin: 4 MiB.
    expect(m.writeBytes).toBeGreaterThanOrEqual(1 * MiB);
    expect(m.writeBytes).toBeLessThan(4 * MiB);
    expect(m.writeOps).toBeGreaterThanOrEqual(2);
    expect(m.upperBytes).toBeUndefined();
    // Projection: bytes × 86400 s / 15 s window.
    expect(m.bytesPerDay).toBeCloseTo((m.writeBytes * 86_400) / WINDOW_SECONDS, 3);
    process.stdout.write(`endurance e2e: rw ${m.writeBytes} B in ${m.writeOps} ops; overlay ${measured('overlay').writeBytes} B, upper +${measured('overlay').upperBytes} B\n`);
  });

  it('feeds the measurements to the model: rw wears, overlay is limited by retention', () => {
    const rw = report.configurations.find((c) => c.id === 'rw')!;
    expect(rw.source).toBe('measured');
    expect(rw.bytesPerDay).toBe(measured('rw').bytesPerDay);
    expect(rw.years.low).toBeGreaterThan(0);
    const overlay = report.configurations.find((c) => c.id === 'overlay')!;
    expect(overlay.source).toBe('measured');
    expect(report.savingRatio).toBe('unbounded');
  });

  it('draws the measured read-write point in a well-formed SVG', () => {
    const p = svgPoints.find((g) => g.config === 'rw')!;
    expect(p.cls).toBe('point measured');
    expect(Number(p.bpd)).toBe(measured('rw').bytesPerDay);
  });

  it('leaves the stick image unchanged', async () => {
    expect(await sha256(image)).toBe(hashBefore);
  });
});
