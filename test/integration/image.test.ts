import { copyFile, mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SYSLINUX_MBR } from '../../src/boot/syslinux.js';
import { assembleImage, PARTITION_START } from '../../src/disk/image.js';
import { FlashrootError } from '../../src/errors.js';
import { initrdPath, kernelPath, SLOT_STATE_PATH, slotManifestPath } from '../../src/stick/paths.js';
import { inspectImage } from '../../src/inspect/inspect.js';
import type { BuildResult } from '../../src/pipeline/build.js';
import { run } from '../../src/util/run.js';
import { buildDemo, sha256 } from '../helpers/demo.js';

let built: BuildResult;
let partition: string;

beforeAll(async () => {
  built = await buildDemo({ reproducible: true, label: 'TESTSTICK' });
  // fsck.fat and blkid read a bare filesystem: cut the partition out.
  partition = join(await mkdtemp(join(tmpdir(), 'part-')), 'p1.img');
  await run('dd', [`if=${built.image}`, `of=${partition}`, 'bs=1M', `skip=${PARTITION_START >> 20}`, 'status=none']);
});

describe('a built image, checked with the standard tools', () => {
  it('has a FAT32 that fsck.fat finds clean, labelled as asked', async () => {
    const fsck = await run('fsck.fat', ['-n', '-v', partition]);
    expect(fsck.stdout).toMatch(/32 bit entries/);
    expect(fsck.stdout).toMatch(/2048 hidden sectors/);
    expect(fsck.stdout).not.toMatch(/differ|Free cluster summary wrong|Dirty bit|orphan/i);
    const blkid = await run('blkid', ['-o', 'export', partition]);
    expect(blkid.stdout).toContain('TYPE=vfat');
    expect(blkid.stdout).toContain('LABEL=TESTSTICK');
    expect(blkid.stdout).toMatch(/UUID=[0-9A-F]{4}-[0-9A-F]{4}/);
  });

  it('carries syslinux mbr.bin in sector 0 and ldlinux.sys in the FAT (seen by mtools)', async () => {
    const fh = await open(built.image, 'r');
    const sector0 = Buffer.alloc(440);
    await fh.read(sector0, 0, 440, 0);
    await fh.close();
    expect(sector0.equals((await readFile(SYSLINUX_MBR)).subarray(0, 440))).toBe(true);
    const dir = await run('mdir', ['-a', '-b', '-i', `${built.image}@@${PARTITION_START}`, '::/syslinux']);
    expect(dir.stdout).toMatch(/LDLINUX\.SYS|ldlinux\.sys/i);
  });

  it('is described by flashroot inspect: partitions, files, both menus, the manifest', async () => {
    const r = await inspectImage(built.image);
    expect(r.mbr.partitions).toEqual([expect.objectContaining({ type: 0x0c, active: true, startLba: 2048 })]);
    const paths = r.files.map((f) => f.path);
    for (const p of [built.squashfsPath, kernelPath('a'), initrdPath('a'), slotManifestPath('a'), SLOT_STATE_PATH, '/EFI/BOOT/BOOTX64.EFI', '/EFI/BOOT/grubx64.efi', '/EFI/BOOT/mmx64.efi', '/EFI/BOOT/grub.cfg', '/syslinux/syslinux.cfg']) {
      expect(paths).toContain(p);
    }
    expect(paths.some((p) => p.includes('random-seed'))).toBe(false);
    // Shim would run its fallback, which writes boot entries into the machine's NVRAM.
    expect(paths.some((p) => /fbx64/i.test(p))).toBe(false);
    const menu = (loader: string) =>
      ['a', 'b'].flatMap((s) => [`${loader}: Boot flashroot demo, slot ${s} (root in a RAM overlay)`, `${loader}: Rescue shell, slot ${s} (stop before the root is mounted)`]);
    expect(r.entries.map((e) => `${e.loader}: ${e.name}`)).toEqual([...menu('syslinux'), ...menu('grub')]);
    expect(r.entries[5]?.cmdline).toMatch(/console=ttyS0,115200 flashroot\.slot=a flashroot\.break=premount flashroot\.shell$/);
    expect(r.manifest).toMatchObject({ slot: 'a', kernel: built.kernel.version, squashfs: { sha256: built.squashfsSha256 } });
    // A fresh stick: slot a current, nothing on trial, both loaders booting it.
    expect(r.slots).toMatchObject({ state: { current: 'a', tries: 0, of: 0 }, defaults: [{ loader: 'syslinux', slot: 'a' }, { loader: 'grub', slot: 'a' }] });
    expect(r.slots?.slots.map((s) => s.role)).toEqual(['current', 'empty']);
  });

  it('is bit-identical when rebuilt from the same input (--reproducible)', async () => {
    const again = await buildDemo({ reproducible: true, label: 'TESTSTICK' });
    expect(await sha256(again.image)).toBe(await sha256(built.image));
  });

  it('is bit-identical with the same SOURCE_DATE_EPOCH, and differs with another', async () => {
    const withEpoch = async (epoch: string) => {
      process.env.SOURCE_DATE_EPOCH = epoch;
      try {
        return await sha256((await buildDemo({ boot: 'bios' })).image);
      } finally {
        delete process.env.SOURCE_DATE_EPOCH;
      }
    };
    const a = await withEpoch('1700000000');
    expect(await withEpoch('1700000000')).toBe(a);
    expect(await withEpoch('1700086400')).not.toBe(a);
  });

  it('does not change when copied: the stick image is self-contained', async () => {
    const copy = join(await mkdtemp(join(tmpdir(), 'copy-')), 'copy.img');
    await copyFile(built.image, copy);
    expect(await sha256(copy)).toBe(await sha256(built.image));
  });
});

describe('a file FAT32 cannot hold', () => {
  it('is refused as bad input (exit 3), with its size and what to do, before the image is written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flashroot-toobig-'));
    const big = join(dir, 'root.sqfs');
    // Sparse: 4 GiB of nothing on disk.
    await run('truncate', ['-s', String(2 ** 32), big]);
    const out = join(dir, 'stick.img');
    const err = await assembleImage({ out, files: [{ path: '/live/root.sqfs', content: { hostPath: big } }], label: 'FLASHROOT', serial: 1, diskSignature: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashrootError);
    expect((err as FlashrootError).exitCode).toBe(3);
    expect((err as FlashrootError).message).toBe('/live/root.sqfs is 4294967296 bytes (4.0 GiB); FAT32 holds files up to 4 GiB - 1');
    expect((err as FlashrootError).hint).toMatch(/--exclude/);
    await expect(open(out)).rejects.toThrow(/ENOENT/);
  });
});
