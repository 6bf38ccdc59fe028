/**
 * The demo stick, hybrid, booted from USB under both firmwares on two kernel generations: the
 * bookworm kernel installed on this machine and the bookworm-backports one (modules .ko.xz).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bootImage, type BootResult } from '../../src/qemu/boot.js';
import { DEMO_MARKER } from '../../src/root/demo-root.js';
import { BOOT_FAILURES, buildDemo, sha256 } from '../helpers/demo.js';
import { BACKPORTS_KERNEL, fetchKernel, installedKernel, type TestKernel } from '../helpers/kernels.js';

/** What a user checks on a booted stick: the root's init ran on an overlay of squashfs + tmpfs. */
function expectOverlayRoot(r: BootResult, kernel: string): void {
  const text = r.console.join('\n');
  expect(r.failedOn, text).toBeUndefined();
  expect(r.matched, text).toBe(true);
  expect(text).toContain(`flashroot-demo: kernel ${kernel}`);
  expect(text).toMatch(/flashroot-demo: root overlay overlay rw,.*lowerdir=\/run\/flashroot\/lower(:\/run\/flashroot\/kmods)?,upperdir=\/run\/flashroot\/rw\/upper/);
  expect(text).toMatch(/flashroot-demo: layer \/run\/flashroot\/lower squashfs ro,/);
  expect(text).toMatch(/flashroot-demo: layer \/run\/flashroot\/rw tmpfs rw,/);
  expect(text).toMatch(/flashroot-demo: layer \/run\/flashroot\/medium vfat ro,/);
  expect(text).toContain('flashroot-demo: write to / ok');
  expect(text).toContain('flashroot-demo: fidelity motd links=2 mode=755');
}

describe.each<[string, () => Promise<TestKernel | { unavailable: string }>, boolean]>([
  ['the installed kernel (the default)', installedKernel, false],
  ['the bookworm-backports kernel', () => fetchKernel(BACKPORTS_KERNEL), true],
])('hybrid demo stick with %s, booted from USB', (_name, kernelOf, explicit) => {
  let kernel: TestKernel | { unavailable: string };
  let image: string;
  let before: string;

  beforeAll(async () => {
    kernel = await kernelOf();
    if ('unavailable' in kernel) return;
    const opts = explicit ? { kernel: kernel.image, modules: kernel.modulesDir } : {};
    const built = await buildDemo({ boot: 'hybrid', ...opts });
    expect(built.kernel.version).toBe(kernel.version);
    image = built.image;
    before = await sha256(image);
  });

  it.for<[string, boolean]>([
    ['BIOS (SeaBIOS, syslinux)', false],
    ['UEFI (OVMF, systemd-boot, UKI)', true],
  ])('%s: reaches the root init on an overlay root and leaves the stick unchanged', async ([, uefi], { skip }) => {
    if ('unavailable' in kernel) return skip(kernel.unavailable);
    const r = await bootImage({ image, uefi, writable: true, expect: DEMO_MARKER, failOn: BOOT_FAILURES, timeoutSec: 300 });
    expectOverlayRoot(r, kernel.version);
    process.stdout.write(`boot ${kernel.version} ${uefi ? 'uefi' : 'bios'}: root init after ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s\n`);
    expect(await sha256(image)).toBe(before);
  });
});
