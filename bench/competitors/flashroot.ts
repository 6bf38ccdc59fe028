/**
 * flashroot itself, through the library entry the CLI uses: the root on the stick (local lower), or
 * a dm-verity root image served over HTTP by nginx on the host (network lower, 10.0.2.2 from QEMU).
 */
import { basename, dirname } from 'node:path';
import { build } from '../../src/pipeline/build.js';
import { Reporter } from '../../src/util/log.js';
import { freePort, startNginx } from '../../test/helpers/nginx.js';
import { BENCH_COMPRESSOR, type BenchRoot } from '../roots.js';
import type { BenchKernel, BuiltStick, Competitor, RunningServer } from './types.js';

/** QEMU user networking's address of the host. */
const HOST_FROM_GUEST = '10.0.2.2';

function flashrootCompetitor(how: string, lower: () => string, serve?: Competitor['serve']): Competitor {
  let kernel: BenchKernel | undefined;
  return {
    name: 'flashroot',
    how,
    firmwares: serve ? ['BIOS'] : ['BIOS', 'UEFI'],
    prepare: (k) => {
      kernel = k;
      return Promise.resolve();
    },
    async buildStick(root: BenchRoot, out: string): Promise<BuiltStick> {
      const r = await build(
        // No menu delay: every tool boots its single entry at once.
        { root: root.dir, init: root.init, kernel: kernel?.image, out, comp: BENCH_COMPRESSOR, lower: lower(), menuTimeout: 0, json: true },
        new Reporter(true),
      );
      return {
        image: r.image,
        initramfs: { bytes: r.initramfs.bytes, uncompressedBytes: r.initramfs.uncompressedBytes },
        ...(r.network ? { served: { file: r.network.path, bytes: r.network.bytes } } : {}),
      };
    },
    ...(serve ? { serve } : {}),
  };
}

export function flashroot(): Competitor {
  return flashrootCompetitor('local lower', () => 'local');
}

export function flashrootNetwork(): Competitor {
  // The port is baked into the stick at build time; nginx listens on it for each boot.
  let port: number | undefined;
  const c = flashrootCompetitor('network lower (HTTP)', () => `http://${HOST_FROM_GUEST}:${port}/`, async (stick, work): Promise<RunningServer> => {
    if (!stick.served) throw new Error('network stick without a served image');
    return startNginx(dirname(stick.served.file), port as number, `${work}/nginx-${basename(stick.served.file)}`);
  });
  return {
    ...c,
    prepare: async (k, reporter) => {
      port = await freePort();
      await c.prepare(k, reporter);
    },
  };
}
