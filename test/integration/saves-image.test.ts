/** A stick built with --persist: partition 2 (0xDA) after the FAT, its superblock, and what inspect shows. */
import { describe, expect, it } from 'vitest';
import { inspectImage } from '../../src/inspect/inspect.js';
import { run } from '../../src/util/run.js';
import { buildDemo } from '../helpers/demo.js';

const MiB = 2 ** 20;

describe('build --persist', () => {
  it('adds a 4 MiB-aligned raw partition 2 with a superblock naming the disk, empty slots, and the policy in the manifest', async () => {
    const built = await buildDemo({ boot: 'bios', persist: ['/etc', '/root'], persistSize: '32MiB', saveEvery: 15 });
    expect(built.saves).toMatchObject({ bytes: 32 * MiB, persist: ['/etc', '/root'], saveAtShutdown: true, saveEveryMinutes: 15 });
    const { stdout } = await run('sfdisk', ['--json', built.image]);
    const parts = (JSON.parse(stdout) as { partitiontable: { partitions: { start: number; size: number; type: string }[] } }).partitiontable.partitions;
    expect(parts.map((p) => p.type)).toEqual(['c', 'da']);
    expect((parts[1]!.start * 512) % (4 * MiB)).toBe(0);
    expect(parts[0]!.start + parts[0]!.size).toBeLessThanOrEqual(parts[1]!.start);
    expect(parts[1]!.size * 512).toBe(32 * MiB);
    const r = await inspectImage(built.image);
    expect(r.saves?.superblock).toEqual({ disk: r.mbr.diskSignature.toString(16).padStart(8, '0').match(/../g)!.reverse().join(''), slots: 3, slotBytes: 8 * MiB, firstSlot: 4 * MiB });
    expect(r.saves?.identityMatches).toBe(true);
    expect(r.saves?.slots.map((s) => s.state)).toEqual(['empty', 'empty', 'empty']);
    expect(r.manifest).toMatchObject({ saves: { partition: 2, bytes: 32 * MiB, persist: ['/etc', '/root'] } });
  }, 300_000);
});
