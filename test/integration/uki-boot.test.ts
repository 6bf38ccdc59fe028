import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildUki, osRelease, UKI_STUB } from '../../src/boot/uki.js';
import { bootImage } from '../../src/qemu/boot.js';
import { formatBytes, formatMs } from '../../src/util/log.js';
import { cmdlineSeen, espStick, MARKER, testKernel } from './uki-fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flashroot-uki-boot-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('boots our UKI directly as the removable-media loader under OVMF', async () => {
  const k = await testKernel();
  const uki = buildUki({
    stub: await readFile(UKI_STUB.path),
    kernel: k.kernel,
    initrd: k.initrd,
    cmdline: 'console=ttyS0 flashroot.test=direct',
    osRelease: osRelease('flashroot test', k.uname),
    uname: k.uname,
  });
  const image = await espStick(dir, [{ path: '/EFI/BOOT/BOOTX64.EFI', data: uki }]);
  const r = await bootImage({ image, uefi: true, expect: MARKER, failOn: ['Kernel panic'], timeoutSec: 150, graceMs: 500 });
  expect(r.failedOn, r.console.join('\n')).toBeUndefined();
  expect(r.matched, r.console.slice(-40).join('\n')).toBe(true);
  expect(cmdlineSeen(r.console)).toBe('console=ttyS0 flashroot.test=direct');
  // Measured numbers for the report (UKI size, firmware start to our init's first line).
  console.log(`UKI ${formatBytes(uki.length)} (kernel ${formatBytes(k.kernel.length)}, initrd ${formatBytes(k.initrd.length)}); OVMF boot to marker ${formatMs(r.msToExpect ?? 0)}`);
});
