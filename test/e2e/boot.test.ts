import { beforeAll, describe, expect, it } from 'vitest';
import { bootImage, type BootResult } from '../../src/qemu/boot.js';
import { DEMO_MARKER } from '../../src/root/demo-root.js';
import { BOOT_FAILURES, buildDemo, sha256 } from '../helpers/demo.js';

let image: string;
let before: string;

beforeAll(async () => {
  image = (await buildDemo({ boot: 'hybrid' })).image;
  before = await sha256(image);
});

/** What a user checks on a booted stick: the root's init ran on an overlay of squashfs + tmpfs. */
function expectOverlayRoot(r: BootResult): void {
  const text = r.console.join('\n');
  expect(r.failedOn, text).toBeUndefined();
  expect(r.matched, text).toBe(true);
  expect(text).toMatch(/flashroot-demo: root overlay overlay rw,.*lowerdir=\/run\/flashroot\/lower,upperdir=\/run\/flashroot\/rw\/upper/);
  expect(text).toMatch(/flashroot-demo: layer \/run\/flashroot\/lower squashfs ro,/);
  expect(text).toMatch(/flashroot-demo: layer \/run\/flashroot\/rw tmpfs rw,/);
  expect(text).toMatch(/flashroot-demo: layer \/run\/flashroot\/medium vfat ro,/);
  expect(text).toContain('flashroot-demo: write to / ok');
  expect(text).toContain('flashroot-demo: fidelity motd links=2 mode=755');
}

describe('hybrid demo stick, booted from USB', () => {
  it.each([
    ['BIOS (SeaBIOS, syslinux)', false],
    ['UEFI (OVMF, systemd-boot, UKI)', true],
  ])('%s: reaches the root init on an overlay root and leaves the stick unchanged', async (_name, uefi) => {
    const r = await bootImage({ image, uefi, writable: true, expect: DEMO_MARKER, failOn: BOOT_FAILURES, timeoutSec: 300 });
    expectOverlayRoot(r);
    process.stdout.write(`boot ${uefi ? 'uefi' : 'bios'}: root init after ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s\n`);
    expect(await sha256(image)).toBe(before);
  });
});
