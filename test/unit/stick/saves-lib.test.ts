/** saves-lib.sh's partition lookup under busybox sh, against a stand-in sysfs (USB, MMC, NVMe names). */
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/util/run.js';

const LIB = fileURLToPath(new URL('../../../overlays/system/bin/saves-lib.sh', import.meta.url));

async function fakeSys(disk: string, parts: string[]): Promise<string> {
  const sys = await mkdtemp(join(tmpdir(), 'fake-sys-'));
  await mkdir(join(sys, 'class/block'), { recursive: true });
  for (const [i, p] of parts.entries()) {
    const dir = join(sys, 'devices/pci0000:00/usb1/block', disk, p);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'partition'), `${i + 1}\n`);
    await symlink(`../../devices/pci0000:00/usb1/block/${disk}/${p}`, join(sys, 'class/block', p));
  }
  return sys;
}

describe('saves-lib.sh: partition 2 of the stick', () => {
  for (const [disk, p1, p2] of [['sda', 'sda1', 'sda2'], ['mmcblk0', 'mmcblk0p1', 'mmcblk0p2'], ['nvme0n1', 'nvme0n1p1', 'nvme0n1p2']]) {
    it(`${p1} -> ${p2} on ${disk}, found through sysfs`, async () => {
      const sys = await fakeSys(disk!, [p1!, p2!]);
      const r = await run('busybox', ['sh', '-c', `. ${LIB}; fr_sv_find_part /dev/${p1} && echo "$FR_SV_PART $FR_SV_DISK"`], { env: { FR_SYS: sys, FR_DEV: '/dev' } });
      expect(r.stdout.trim()).toBe(`/dev/${p2} /dev/${disk}`);
    });
  }
  it('fails on a disk with one partition', async () => {
    const sys = await fakeSys('sdb', ['sdb1']);
    const r = await run('busybox', ['sh', '-c', `. ${LIB}; fr_sv_find_part /dev/sdb1 || echo none`], { env: { FR_SYS: sys } });
    expect(r.stdout.trim()).toBe('none');
  });
});

describe('saves-lib.sh: fr_centis, the clock of the timings it prints', () => {
  for (const [uptime, centis] of [['10.08 3.2', '1008'], ['9.00 1.0', '900'], ['12.90 1.0', '1290'], ['0.05 0.0', '5']]) {
    it(`/proc/uptime "${uptime}" -> ${centis}`, async () => {
      const proc = await mkdtemp(join(tmpdir(), 'fake-proc-'));
      await writeFile(join(proc, 'uptime'), `${uptime}\n`);
      const r = await run('busybox', ['sh', '-c', `. ${LIB}; fr_centis`], { env: { FR_PROC: proc } });
      expect(r.stdout.trim()).toBe(centis);
    });
  }
});
