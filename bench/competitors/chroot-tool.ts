/**
 * A competitor whose initramfs generator runs in its own cached Debian chroot (same kernel package
 * as the host), and whose stick is a plain syslinux FAT with the root's squashfs where that
 * initramfs looks for it. live-boot and dracut differ only in the declarations they pass here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeSquashfs } from '../../src/squashfs/mksquashfs.js';
import { debianTree, checkSameKernel, runInChroot, type TreeSpec } from '../debian-tree.js';
import { initramfsSize } from '../initramfs-size.js';
import { squashfsOptions, type BenchRoot } from '../roots.js';
import { writeLiveStick } from '../stick.js';
import type { BenchKernel, BuiltStick, Competitor } from './types.js';

export interface ChrootToolSpec {
  name: string;
  how: string;
  tree: (kernelVersion: string) => TreeSpec;
  label: string;
  squashfsPath: string;
  cmdline: string;
  /** argv run inside the chroot that writes a zstd initramfs for the kernel to `out` (a chroot path). */
  initramfsCommand: (kernelVersion: string, out: string) => string[];
}

/** Where the generator writes, inside the chroot; removed after each build. */
const INITRD_IN_CHROOT = '/tmp/flashroot-bench-initrd.img';
// dracut --no-hostonly and MODULES=most walk the whole module tree: minutes on a loaded machine.
const GENERATOR_TIMEOUT_MS = 20 * 60_000;

export function chrootTool(spec: ChrootToolSpec): Competitor {
  let ready: { chroot: string; kernel: BenchKernel } | undefined;
  return {
    name: spec.name,
    how: spec.how,
    firmwares: ['BIOS'],
    async prepare(kernel, reporter) {
      const chroot = await debianTree(spec.tree(kernel.version), reporter);
      await checkSameKernel(chroot, kernel.version, kernel.image);
      ready = { chroot, kernel };
    },
    async buildStick(root: BenchRoot, out: string): Promise<BuiltStick> {
      if (!ready) throw new Error(`${spec.name}: buildStick before prepare`);
      const { chroot, kernel } = ready;
      const work = await mkdtemp(join(dirname(out), 'stick-'));
      const initrd = join(chroot, INITRD_IN_CHROOT);
      try {
        const squashfs = join(work, 'root.sqfs');
        await makeSquashfs(squashfsOptions(root, squashfs));
        await runInChroot(chroot, spec.initramfsCommand(kernel.version, INITRD_IN_CHROOT), { timeoutMs: GENERATOR_TIMEOUT_MS });
        const size = await initramfsSize(initrd);
        await writeLiveStick({ out, label: spec.label, kernel: kernel.image, initrd, squashfs, squashfsPath: spec.squashfsPath, cmdline: spec.cmdline });
        return { image: out, initramfs: size };
      } finally {
        await rm(initrd, { force: true });
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}
