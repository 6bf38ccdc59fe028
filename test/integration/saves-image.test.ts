/** A stick built with --persist: partition 2 (0xDA) after the FAT, its superblock, and what inspect shows. */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { inspectImage } from '../../src/inspect/inspect.js';
import { formatHeader, PAYLOAD_OFFSET, slotOffset } from '../../src/stick/saves-area.js';
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

    // A generation as flashroot-save writes it (in slot 1): inspect lists it, endurance sizes saves from it.
    const payload = Buffer.alloc(10_000, 7);
    const fh = await open(built.image, 'r+');
    const at = built.saves!.start + slotOffset(r.saves!.superblock!, 1);
    await fh.write(payload, 0, payload.length, at + PAYLOAD_OFFSET);
    await fh.write(formatHeader({ seq: 1, time: 1_790_000_000, length: payload.length, deletions: 0, sha256: createHash('sha256').update(payload).digest('hex'), fingerprint: 'ab'.repeat(32), comp: 'gzip' }), 0, 512, at);
    await fh.close();
    const shown = await run(process.execPath, ['bin/flashroot.js', 'inspect', built.image]);
    expect(shown.stdout).toMatch(/saves \(partition 2, 32\.0 MiB\): 3 slots of 8\.0 MiB, for disk [0-9a-f]{8}\n {2}slot 0: empty\n {2}slot 1: generation 1, saved 2026-09-21T\S+, 9\.8 KiB, sha256 \w+…: checksum ok \(current\)\n {2}slot 2: empty/);
    const e = await run(process.execPath, ['bin/flashroot.js', 'endurance', '--capacity', '32G', '--saves-from', built.image, '--save-every', '1h', '--json']);
    const save = (JSON.parse(e.stdout) as { configurations: { id: string; bytesPerDay: number; meanWriteBytes: number }[] }).configurations.find((c) => c.id === 'overlay-save')!;
    // 10,000 bytes are three 4 KiB pages; each save adds two header sectors.
    expect(save.meanWriteBytes).toBe(12_288);
  }, 300_000);
});
