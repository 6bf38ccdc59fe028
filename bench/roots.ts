/**
 * The roots the bench feeds every tool: the demo root (its init prints a marker and powers off,
 * so boots are timed to the marker) and a Debian minbase root for the build rows, larger than the
 * demo so compression time dominates as it does for real roots. One squashfs setting for all tools.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureRoot } from '../src/root/capture.js';
import { makeDemoRoot } from '../src/root/demo-root.js';
import type { Compressor, SquashfsOptions } from '../src/squashfs/mksquashfs.js';
import type { Reporter } from '../src/util/log.js';
import { run } from '../src/util/run.js';
import { debianTree } from './debian-tree.js';

/** flashroot's default, used for every tool's squashfs. */
export const BENCH_COMPRESSOR: Compressor = 'zstd';

export interface BenchRoot {
  name: string;
  dir: string;
  /** What the booted system runs; minbase has no init system, so only the build rows use it. */
  init: string;
  /** flashroot's capture rules (volatile dirs left empty), applied to every tool alike. */
  excludes: string[];
}

async function capture(name: string, dir: string, init: string): Promise<BenchRoot> {
  const captured = await captureRoot(dir, init, []);
  return { name, dir, init, excludes: captured.excludes };
}

/**
 * The demo root, optionally carrying another root's files under /opt/payload: nothing reads them at
 * boot, but they give the image a realistic size, so what a network lower fetches to reach the init
 * is measured as a share of a real image rather than of a 1 MB busybox.
 */
export async function demoRoot(work: string, payload?: BenchRoot): Promise<BenchRoot> {
  const dir = join(await mkdtemp(join(work, 'demo-root-')), 'root');
  await makeDemoRoot(dir);
  if (!payload) return capture('demo', dir, '/sbin/init');
  await mkdir(join(dir, 'opt'));
  await run('cp', ['-a', payload.dir, join(dir, 'opt/payload')]);
  return capture(`demo (with ${payload.name} as /opt/payload)`, dir, '/sbin/init');
}

export async function minbaseRoot(reporter: Reporter): Promise<BenchRoot> {
  const dir = await debianTree({ name: 'root-minbase', include: [] }, reporter);
  return capture('Debian 12 minbase', dir, '/bin/sh');
}

/** The same mksquashfs options for every tool, and for the bare mksquashfs reference. */
export function squashfsOptions(root: BenchRoot, output: string): SquashfsOptions {
  return { source: root.dir, output, compressor: BENCH_COMPRESSOR, excludes: root.excludes };
}

export async function benchWorkDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'flashroot-bench-'));
}
