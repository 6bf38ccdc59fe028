/** flashroot itself, through the library entry the CLI uses, with a local (on-stick) lower layer. */
import { build } from '../../src/pipeline/build.js';
import { Reporter } from '../../src/util/log.js';
import { BENCH_COMPRESSOR, type BenchRoot } from '../roots.js';
import type { BenchKernel, BuiltStick, Competitor } from './types.js';

export function flashroot(): Competitor {
  let kernel: BenchKernel | undefined;
  return {
    name: 'flashroot',
    how: 'local lower',
    firmwares: ['BIOS', 'UEFI'],
    prepare: (k) => {
      kernel = k;
      return Promise.resolve();
    },
    async buildStick(root: BenchRoot, out: string): Promise<BuiltStick> {
      const r = await build(
        // No menu delay: every tool boots its single entry at once.
        { root: root.dir, init: root.init, kernel: kernel?.image, out, comp: BENCH_COMPRESSOR, menuTimeout: 0, json: true },
        new Reporter(true),
      );
      return { image: r.image, initramfs: { bytes: r.initramfs.bytes, uncompressedBytes: r.initramfs.uncompressedBytes } };
    },
  };
}
