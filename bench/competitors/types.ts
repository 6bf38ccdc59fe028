/**
 * What every tool in the comparison provides: a stick image built from a given root, and the
 * firmware it is booted under. The bench times the builds and boots; the tools only build.
 */
import type { Reporter } from '../../src/util/log.js';
import type { BenchRoot } from '../roots.js';

export type Firmware = 'BIOS' | 'UEFI';

export interface InitramfsSize {
  bytes: number;
  uncompressedBytes: number;
}

export interface BuiltStick {
  image: string;
  initramfs: InitramfsSize;
  /** A root image that stays off the stick and is fetched from a server at boot. */
  served?: { file: string; bytes: number };
}

/** A server the guest boots from, counting what it sends. */
export interface RunningServer {
  bytesServed(): Promise<number>;
  stop(): Promise<void>;
}

/** The kernel every tool builds for and every boot runs. */
export interface BenchKernel {
  image: string;
  version: string;
}

export interface Competitor {
  /** Row name in the table. */
  name: string;
  /** How the root reaches the booted system, for the table ("local lower", "boot=live"). */
  how: string;
  firmwares: readonly Firmware[];
  /** One-time work (chroots, checks), before anything is timed. */
  prepare(kernel: BenchKernel, reporter: Reporter): Promise<void>;
  /** Builds a bootable stick from the root at `out`: squashfs, initramfs and stick, all of it timed. */
  buildStick(root: BenchRoot, out: string): Promise<BuiltStick>;
  /** For network lowers: starts the server one boot of this stick fetches its root from. */
  serve?(stick: BuiltStick, work: string): Promise<RunningServer>;
}
