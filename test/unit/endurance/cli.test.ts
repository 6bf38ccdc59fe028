import { describe, expect, it } from 'vitest';
import { run } from '../../../src/util/run.js';

const cli = (...args: string[]) => run(process.execPath, ['bin/flashroot.js', 'endurance', ...args], { okExitCodes: [2] });

describe('flashroot endurance (CLI)', () => {
  it('prints the comparison as JSON from the flags', async () => {
    const r = await cli('--capacity', '32G', '--nand', 'tlc', '--daily-writes', '2G', '--json');
    expect(r.exitCode).toBe(0);
    const j = JSON.parse(r.stdout) as { configurations: { id: string; bytesPerDay: number; source: string; tbwBytes: { high: number } }[] };
    // Same case as model.test.ts: TBW high = 32e9 × 3000 / 4 = 24e12.
    expect(j.configurations[0]).toMatchObject({ id: 'rw', bytesPerDay: 2e9, source: 'user', tbwBytes: { high: 24e12 } });
  });
  it('exits 2 and lists every bad flag', async () => {
    const r = await cli('--capacity', 'huge', '--nand', 'plc', '--waf', '0.5');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--capacity: cannot read');
    expect(r.stderr).toContain('--nand must be one of');
    expect(r.stderr).toContain("--waf must be 'auto'");
    expect(r.stderr).toContain('hint:');
  });
});
