/**
 * A root without modules for the stick's kernel (the demo root) still gets them: built with
 * defaults, the stick carries the kernel's modules as a layer of their own, and modprobe in the
 * booted system loads a module the initramfs does not carry, with its dependencies.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bootImage } from '../../src/qemu/boot.js';
import type { BuildResult } from '../../src/pipeline/build.js';
import { BOOT_FAILURES, buildDemo, sha256 } from '../helpers/demo.js';

// btrfs is in no module group, and needs xor, raid6_pq and libcrc32c loaded first.
const MODULE = 'btrfs';
let built: BuildResult;

beforeAll(async () => {
  built = await buildDemo({ boot: 'bios', cmdline: `demo.modprobe=${MODULE}` });
}, 300_000);

describe('the demo root, built with defaults', () => {
  it('carries every module of its kernel in a layer of its own', () => {
    // Named by its content (src/stick/paths.ts modulesLayerPath), so two slots with one kernel share it.
    expect(built.rootModules).toMatchObject({ from: 'layer', path: expect.stringMatching(/^\/live\/modules-[0-9a-f]{16}\.sqfs$/) as unknown, dest: `/lib/modules/${built.kernel.version}` });
    if (built.rootModules.from === 'layer') expect(built.rootModules.modules).toBeGreaterThan(1000);
  });

  it(`boots and modprobes ${MODULE}, which is not in the initramfs, from the modules layer`, async () => {
    const before = await sha256(built.image);
    const r = await bootImage({
      image: built.image,
      writable: true,
      expect: `flashroot-demo: modprobe ${MODULE} ok`,
      failOn: [...BOOT_FAILURES, `flashroot-demo: modprobe ${MODULE} FAILED`],
      timeoutSec: 300,
    });
    const text = r.console.join('\n');
    expect(r.failedOn, text).toBeUndefined();
    expect(r.matched, text).toBe(true);
    expect(text).toContain(`flashroot-demo: modprobe ${MODULE} ok (${built.kernel.version})`);
    expect(text).toMatch(/flashroot-demo: root overlay overlay rw,.*lowerdir=\/run\/flashroot\/lower:\/run\/flashroot\/kmods,/);
    expect(text).toMatch(/flashroot-demo: layer \/run\/flashroot\/kmods squashfs ro,/);
    process.stdout.write(`modules layer: ${MODULE} loaded ${((r.msToExpect ?? 0) / 1000).toFixed(1)} s after QEMU started\n`);
    expect(await sha256(built.image)).toBe(before);
  }, 360_000);
});
