/**
 * A slot's kernel and initramfs copied off a stick image, for tests that have QEMU load them
 * directly (-kernel/-initrd), so each boot skips the loader's menu and can pass its own cmdline.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FatVolume } from '../../src/disk/fat.js';
import { SECTOR } from '../../src/disk/mbr.js';
import { probeStickImage } from '../../src/disk/probe.js';
import { initrdPath, kernelPath, type SlotId } from '../../src/stick/paths.js';

export async function slotBootFiles(image: string, dir: string, slot: SlotId = 'a'): Promise<{ kernel: string; initrd: string }> {
  const { fat } = await probeStickImage(image);
  const vol = await FatVolume.mount(image, fat.startLba * SECTOR, fat.sectors * SECTOR);
  try {
    const kernel = join(dir, 'vmlinuz');
    const initrd = join(dir, 'initrd.img');
    await writeFile(kernel, vol.readFile(kernelPath(slot)));
    await writeFile(initrd, vol.readFile(initrdPath(slot)));
    return { kernel, initrd };
  } finally {
    vol.close();
  }
}
