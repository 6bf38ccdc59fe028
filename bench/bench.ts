/**
 * The comparison, in one run: every tool builds from the same roots for the same kernel with the same
 * squashfs options, then every stick boots in QEMU. Builds and boots go round-robin across the tools
 * (round 1 of every tool, then round 2 …), so load from other jobs on the machine falls on all tools
 * alike and the ratios within one run stay meaningful even when absolute times drift.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { findNewestKernel, kernelVersionFromImage } from '../src/kernel/version.js';
import { makeSquashfs } from '../src/squashfs/mksquashfs.js';
import type { Reporter } from '../src/util/log.js';
import type { BenchKernel, BuiltStick, Competitor, Firmware, InitramfsSize, RunningServer } from './competitors/types.js';
import { measureBoot, type BootSample } from './measure-boot.js';
import { benchWorkDir, demoRoot, minbaseRoot, squashfsOptions } from './roots.js';

export interface BenchOptions {
  competitors: readonly Competitor[];
  boots: number;
  builds: number;
  /** The root the build rows compress: Debian minbase (the real comparison) or the demo (smoke test). */
  buildRoot: 'minbase' | 'demo';
  reporter: Reporter;
  /** Called after every build and boot round with the report so far. */
  onRound?: (report: BenchReport) => Promise<void>;
}

export interface BootRow {
  firmware: Firmware;
  samples: BootSample[];
  errors: string[];
}

export interface ToolResult {
  name: string;
  how: string;
  initramfs?: InitramfsSize;
  /** Size of the root image a network lower fetches from. */
  servedBytes?: number;
  /** Build times on the build root, one per round, each with the bare mksquashfs run just before it. */
  builds: { ms: number; bareMs: number }[];
  boots: BootRow[];
  errors: string[];
}

export interface BenchReport {
  date: string;
  kernel: BenchKernel;
  buildRoot: string;
  bootRoot: string;
  rounds: { builds: number; boots: number };
  /** Rounds finished so far: a report written after each round survives an interrupted run. */
  done: { builds: number; boots: number };
  bareMksquashfsMs: number[];
  tools: ToolResult[];
}

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

async function benchKernel(): Promise<BenchKernel> {
  const { image } = await findNewestKernel();
  return { image, version: await kernelVersionFromImage(image) };
}

/** A tool whose build or preparation failed stays in the table with its reason, and the run goes on. */
async function attempt(tool: ToolResult, what: string, fn: () => Promise<void>, reporter: Reporter): Promise<void> {
  try {
    await fn();
  } catch (e) {
    tool.errors.push(`${what}: ${message(e)}`);
    reporter.info(`    ${tool.name}: ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const { reporter } = o;
  const work = await benchWorkDir();
  try {
    const kernel = await benchKernel();
    const results: ToolResult[] = o.competitors.map((c) => ({ name: c.name, how: c.how, builds: [], boots: [], errors: [] }));
    const live: { c: Competitor; r: ToolResult }[] = [];
    for (const [i, c] of o.competitors.entries()) {
      const r = results[i] as ToolResult;
      await attempt(r, 'prepare', () => reporter.step(`Preparing ${c.name} (${c.how}) for ${kernel.version}`, () => c.prepare(kernel, reporter)), reporter);
      if (!r.errors.length) live.push({ c, r });
    }

    const buildRoot = o.buildRoot === 'minbase' ? await minbaseRoot(reporter) : await demoRoot(work);
    // When the build root is the boot root (smoke test), the last build round's sticks are booted.
    const bootRoot = o.buildRoot === 'demo' ? buildRoot : await demoRoot(work, buildRoot);
    const report: BenchReport = {
      date: new Date().toISOString(),
      kernel,
      buildRoot: buildRoot.name,
      bootRoot: bootRoot.name,
      rounds: { builds: o.builds, boots: o.boots },
      done: { builds: 0, boots: 0 },
      bareMksquashfsMs: [],
      tools: results,
    };
    const sticks = new Map<Competitor, BuiltStick>();
    const keepStick = (c: Competitor, r: ToolResult, stick: BuiltStick) => {
      sticks.set(c, stick);
      if (stick.served) r.servedBytes = stick.served.bytes;
    };
    const stickPath = (c: Competitor) => join(work, `${`${c.name}-${c.how}`.replace(/\W+/g, '-')}.img`);

    const bareOut = join(work, 'bare.sqfs');
    // Untimed: the first read of the root comes from disk, later ones from the page cache.
    await reporter.step(`Reading the ${buildRoot.name} root once (page cache warm-up)`, () => makeSquashfs(squashfsOptions(buildRoot, bareOut)));
    for (let round = 1; round <= o.builds; round++) {
      const keep = round === o.builds && bootRoot === buildRoot;
      await reporter.step(`Build round ${round}/${o.builds} on the ${buildRoot.name} root`, async () => {
        for (const { c, r } of live) {
          // Each build is paired with a bare mksquashfs just before it: the load from other jobs
          // changes within minutes, so a ratio of neighbours is what stays comparable.
          const bare = await timed(() => makeSquashfs(squashfsOptions(buildRoot, bareOut)));
          await rm(bareOut, { force: true });
          report.bareMksquashfsMs.push(bare.ms);
          await attempt(r, `build round ${round}`, async () => {
            const built = await timed(() => c.buildStick(buildRoot, stickPath(c)));
            r.builds.push({ ms: built.ms, bareMs: bare.ms });
            r.initramfs = built.value.initramfs;
            if (keep) keepStick(c, r, built.value);
            else await discard(built.value);
          }, reporter);
        }
      });
      report.done.builds = round;
      await o.onRound?.(report);
    }

    for (const { c, r } of live.filter(({ c }) => !sticks.has(c))) {
      await attempt(r, 'build of the boot stick', () =>
        reporter.step(`Building the ${c.name} (${c.how}) stick from the ${bootRoot.name} root`, async () => keepStick(c, r, await c.buildStick(bootRoot, stickPath(c)))),
        reporter);
    }
    const bootRows = live.flatMap(({ c, r }) => {
      const stick = sticks.get(c);
      return stick ? c.firmwares.map((firmware) => ({ c, r, stick, row: pushRow(r, firmware) })) : [];
    });
    for (let round = 1; round <= o.boots; round++) {
      for (const { c, r, stick, row } of bootRows) {
        await reporter.step(`Boot round ${round}/${o.boots}: ${r.name} (${r.how}, ${row.firmware})`, async () => {
          let server: RunningServer | undefined;
          try {
            server = await c.serve?.(stick, work);
            row.samples.push(await measureBoot({ image: stick.image, firmware: row.firmware, work, server }));
          } catch (e) {
            row.errors.push(message(e));
            reporter.info(`    ${e instanceof Error ? e.message : String(e)}`);
          } finally {
            await server?.stop();
          }
        });
      }
      report.done.boots = round;
      await o.onRound?.(report);
    }
    return report;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Build-round sticks are only timed: their images (and network root images) go at once. */
async function discard(stick: BuiltStick): Promise<void> {
  await rm(stick.image, { force: true });
  if (stick.served) await rm(stick.served.file, { force: true });
}

function pushRow(r: ToolResult, firmware: Firmware): BootRow {
  const row: BootRow = { firmware, samples: [], errors: [] };
  r.boots.push(row);
  return row;
}
