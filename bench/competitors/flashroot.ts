/**
 * flashroot itself, through the library entry the CLI uses: the root on the stick (local lower), or
 * a dm-verity root image fetched at boot from a server on the host (10.0.2.2 from QEMU): nginx over
 * HTTP or HTTPS, or a private S3 bucket behind an https:// endpoint read with signed requests.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { S3Credentials } from '../../src/network/s3.js';
import { build } from '../../src/pipeline/build.js';
import type { BuildOptionsInput } from '../../src/pipeline/options.js';
import { Reporter } from '../../src/util/log.js';
import { freePort, startNginx } from '../../test/helpers/nginx.js';
import { startTestS3 } from '../../test/helpers/s3-server.js';
import { makeTestCa, type TestCa } from '../../test/helpers/tls.js';
import { BENCH_COMPRESSOR, type BenchRoot } from '../roots.js';
import type { BenchKernel, BuiltStick, Competitor, RunningServer } from './types.js';

/** QEMU user networking's address of the host. */
const HOST_FROM_GUEST = '10.0.2.2';
const S3_KEY: S3Credentials = { accessKeyId: 'FLASHROOTBENCH', secretAccessKey: 'bench-only-secret', region: 'us-east-1' };
const S3_PREFIX = 's3://bench/images/';

/** What a network variant adds: its lower and build options, and the server one boot reads from. */
interface NetworkSetup {
  options: Partial<BuildOptionsInput>;
  env?: NodeJS.ProcessEnv;
  serve(served: NonNullable<BuiltStick['served']>, work: string): Promise<RunningServer>;
}

function flashrootCompetitor(how: string, network?: (port: number, tls: TestCa) => NetworkSetup): Competitor {
  let kernel: BenchKernel | undefined;
  let setup: NetworkSetup | undefined;
  return {
    name: 'flashroot',
    how,
    firmwares: network ? ['BIOS'] : ['BIOS', 'UEFI'],
    async prepare(k) {
      kernel = k;
      // The port is baked into the stick at build time; the server listens on it for each boot.
      if (network) setup = network(await freePort(), await throwawayCa());
    },
    async buildStick(root: BenchRoot, out: string): Promise<BuiltStick> {
      const r = await build(
        // No menu delay: every tool boots its single entry at once.
        { root: root.dir, init: root.init, kernel: kernel?.image, out, comp: BENCH_COMPRESSOR, menuTimeout: 0, json: true, ...setup?.options },
        new Reporter(true),
        setup?.env,
      );
      return {
        image: r.image,
        initramfs: { bytes: r.initramfs.bytes, uncompressedBytes: r.initramfs.uncompressedBytes },
        ...(r.network ? { served: { file: r.network.path, bytes: r.network.bytes } } : {}),
      };
    },
    ...(network
      ? {
          serve: (stick: BuiltStick, work: string) => {
            if (!stick.served || !setup) throw new Error('network stick without a served image');
            return setup.serve(stick.served, work);
          },
        }
      : {}),
  };
}

/** A CA and server certificate for the run, removed when the bench exits. */
async function throwawayCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'flashroot-bench-ca-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return makeTestCa(dir);
}

const serveNginx =
  (port: number, tls?: TestCa): NetworkSetup['serve'] =>
  (served, work) =>
    startNginx(dirname(served.file), port, `${work}/nginx-${basename(served.file)}`, tls);

export function flashroot(): Competitor {
  return flashrootCompetitor('local lower');
}

export function flashrootNetwork(): Competitor {
  return flashrootCompetitor('network lower (HTTP)', (port) => ({ options: { lower: `http://${HOST_FROM_GUEST}:${port}/` }, serve: serveNginx(port) }));
}

export function flashrootHttps(): Competitor {
  return flashrootCompetitor('network lower (HTTPS, nbdkit)', (port, tls) => ({
    options: { lower: `https://${HOST_FROM_GUEST}:${port}/`, caCert: tls.ca },
    serve: serveNginx(port, tls),
  }));
}

export function flashrootS3(): Competitor {
  return flashrootCompetitor('network lower (private S3 over HTTPS, signed)', (port, tls) => ({
    options: { lower: S3_PREFIX, endpoint: `https://${HOST_FROM_GUEST}:${port}`, caCert: tls.ca, signedReads: true },
    env: { ...process.env, AWS_ACCESS_KEY_ID: S3_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey, AWS_REGION: S3_KEY.region },
    async serve(served) {
      const s3 = await startTestS3(port, S3_KEY, { private: true, tls });
      s3.put(`/${S3_PREFIX.slice('s3://'.length)}${basename(served.file)}`, await readFile(served.file));
      return { bytesServed: () => Promise.resolve(s3.bytesServed()), stop: () => s3.stop() };
    },
  }));
}
