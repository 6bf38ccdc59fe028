/**
 * Where a boot's time goes (issue 19), from the serial console of each boot: QEMU start to the
 * kernel's first line (firmware and loader, reading the kernel and initramfs through the firmware's
 * disk services), the kernel's own timestamps to /init (unpacking the initramfs among them), then
 * flashroot's steps by the host-side arrival of their lines, to the root's init. Boots of the tools
 * are interleaved, so a load that changes over the run weighs on each alike.
 *
 *   node --import tsx bench/boot-phases.ts [--tools flashroot,flashroot-net,flashroot-https,flashroot-s3] [--boots 2] [--cpus 1] [--logs DIR]
 *
 * --cpus: the guest's virtual CPUs (QEMU -smp), one boot of each tool with each count per round.
 * With one, the background driver pass and a network client's start share one emulated CPU, which
 * a box with two or more cores does not.
 *
 * --logs keeps each boot's console, with the host's time since QEMU started on every line, for a
 * closer look at one phase (DIR/TOOL-Ncpu-ROUND.log).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../src/errors.js';
import { findNewestKernel, kernelVersionFromImage } from '../src/kernel/version.js';
import { bootImage } from '../src/qemu/boot.js';
import { DEMO_MARKER } from '../src/root/demo-root.js';
import { Reporter } from '../src/util/log.js';
import { flashroot, flashrootHttps, flashrootNetwork, flashrootS3 } from './competitors/flashroot.js';
import { spread } from './stats.js';
import type { BuiltStick, Competitor } from './competitors/types.js';
import { benchWorkDir, demoRoot, minbaseRoot } from './roots.js';

const TOOLS: Record<string, () => Competitor> = { flashroot, 'flashroot-net': flashrootNetwork, 'flashroot-https': flashrootHttps, 'flashroot-s3': flashrootS3 };

/** Console lines that end a phase, in boot order; the first line matching each is its end. */
const MARKS: [string, RegExp][] = [
  ['kernel starts (firmware, loader, kernel + initramfs read)', /Linux version/],
  ['initramfs unpacked', /Freeing initrd memory/],
  ['/init runs', /Run \/init as init process/],
  ['stick found', /flashroot: medium /],
  ['network layer mounted', /flashroot: network layer /],
  ['network up', /flashroot: network (?!layer)/],
  ['lower mounted', /flashroot: lower /],
  ["root's init", new RegExp(DEMO_MARKER)],
];

const KERNEL_TIME = /^\[\s*(\d+\.\d+)\]/;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tools: { type: 'string', default: 'flashroot,flashroot-https' }, boots: { type: 'string', default: '2' }, logs: { type: 'string' }, cpus: { type: 'string', default: '1' } } });
  if (values.logs) mkdirSync(values.logs, { recursive: true });
  const cpuCounts = (values.cpus ?? '').split(',').map(Number);
  if (!cpuCounts.every((n) => Number.isInteger(n) && n >= 1 && n <= 8)) {
    throw new UsageError(`--cpus ${values.cpus}: must be a comma list of whole numbers from 1 to 8`, 'see the usage at the top of bench/boot-phases.ts');
  }
  const names = (values.tools ?? '').split(',').filter((n) => n in TOOLS);
  const reporter = new Reporter(false);
  const work = await benchWorkDir();
  const { image } = await findNewestKernel();
  const kernel = { image, version: await kernelVersionFromImage(image) };
  const root = await demoRoot(work, await minbaseRoot(reporter));
  const sticks: { name: string; c: Competitor; stick: BuiltStick }[] = [];
  for (const name of names) {
    const c = (TOOLS[name] as () => Competitor)();
    await c.prepare(kernel, reporter);
    sticks.push({ name, c, stick: await c.buildStick(root, `${work}/${name}.img`) });
  }
  const rows: string[] = [];
  // Per tool and CPU count: QEMU start, and the kernel's first line, to the root's init (the second leaves out the firmware's phase, the noisiest).
  const totals = new Map<string, Totals>();
  for (let round = 0; round < Number(values.boots); round++) {
    for (const cpus of cpuCounts) for (const { name, c, stick } of sticks) {
      const server = c.serve ? await c.serve(stick, work) : undefined;
      const at = new Map<string, { host: number; kernel?: number }>();
      const started = performance.now();
      const r = await bootImage({
        image: stick.image,
        network: Boolean(server),
        cpus,
        expect: DEMO_MARKER,
        failOn: ['flashroot: FAIL', 'Kernel panic'],
        timeoutSec: 300,
        onLine: (line) => {
          if (values.logs) appendFileSync(`${values.logs}/${name}-${cpus}cpu-${round + 1}.log`, `${((performance.now() - started) / 1000).toFixed(2).padStart(7)} ${line}\n`);
          for (const [mark, re] of MARKS) {
            if (at.has(mark) || !re.test(line)) continue;
            const k = KERNEL_TIME.exec(line)?.[1];
            at.set(mark, { host: performance.now(), ...(k ? { kernel: Number(k) * 1000 } : {}) });
          }
        },
      });
      await server?.stop();
      let previous = started;
      const cells = MARKS.map(([mark]) => {
        const t = at.get(mark);
        if (!t) return '–';
        const cell = ((t.host - previous) / 1000).toFixed(1);
        previous = t.host;
        return cell;
      });
      const unpack = (at.get('initramfs unpacked')?.kernel ?? NaN) / 1000;
      const kernelAt = at.get(MARKS[0]?.[0] ?? '')?.host;
      if (r.msToExpect !== undefined && kernelAt !== undefined) {
        const t = totals.get(`${name}|${cpus}`) ?? { name, cpus, fromQemu: [], fromKernel: [] };
        t.fromQemu.push(r.msToExpect / 1000);
        t.fromKernel.push(r.msToExpect / 1000 - (kernelAt - started) / 1000);
        totals.set(`${name}|${cpus}`, t);
      }
      rows.push(`| ${name} | ${cpus} | ${(stick.initramfs.bytes / 2 ** 20).toFixed(1)} / ${(stick.initramfs.uncompressedBytes / 2 ** 20).toFixed(1)} MiB | ${cells.join(' | ')} | ${((r.msToExpect ?? NaN) / 1000).toFixed(1)} | ${unpack.toFixed(2)} |`);
      process.stdout.write(`${rows.at(-1)}\n`);
    }
  }
  process.stdout.write(
    `\n| tool | vCPUs | initramfs zstd / unpacked | ${MARKS.map(([m]) => m).join(' | ')} | total s | kernel clock at unpack end s |\n|${'---|'.repeat(MARKS.length + 5)}\n${rows.join('\n')}\n`,
  );
  process.stdout.write(`\n${summary(totals, names[0] ?? '')}\n`);
}

interface Totals {
  name: string;
  cpus: number;
  fromQemu: number[];
  fromKernel: number[];
}

/** Mean and median (min–max) of each tool's boots, and the ratio of means to the first tool's with as many CPUs. */
function summary(totals: Map<string, Totals>, reference: string): string {
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const cell = (v: readonly number[], r: readonly number[] | undefined) => {
    const s = spread(v);
    if (!s) return '–';
    return `${mean(v).toFixed(1)} s, median ${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})${r?.length ? `, ${(mean(v) / mean(r)).toFixed(2)}×` : ''}`;
  };
  const lines = [...totals.values()].map((t) => {
    const ref = totals.get(`${reference}|${t.cpus}`);
    return `| ${t.name} | ${t.cpus} | ${t.fromQemu.length} | ${cell(t.fromQemu, ref?.fromQemu)} | ${cell(t.fromKernel, ref?.fromKernel)} |`;
  });
  return `| tool | vCPUs | boots | QEMU start to the root's init: mean, median (min–max), ÷ ${reference} | the kernel's first line to the root's init |\n|---|---|---|---|---|\n${lines.join('\n')}`;
}

await main();
