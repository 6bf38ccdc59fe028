/**
 * `npm run bench`: flashroot against Debian live-boot and dracut dmsquash-live on this machine, same
 * kernel, same roots. Prints the Markdown table and writes it to bench/RESULTS.md (or --out).
 *
 *   node --import tsx bench/run.ts [--boots 3] [--builds 3] [--tools flashroot,flashroot-net,flashroot-https,flashroot-s3,live-boot,dracut]
 *                                  [--build-root minbase|demo] [--out bench/RESULTS.md]
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { FlashrootError, UsageError } from '../src/errors.js';
import { Reporter } from '../src/util/log.js';
import { runBench } from './bench.js';
import { dracutLive } from './competitors/dracut.js';
import { flashroot, flashrootHttps, flashrootNetwork, flashrootS3 } from './competitors/flashroot.js';
import { liveBoot } from './competitors/live-boot.js';
import type { Competitor } from './competitors/types.js';
import { renderReport } from './table.js';

const TOOLS: Record<string, () => Competitor> = {
  flashroot,
  'flashroot-net': flashrootNetwork,
  'flashroot-https': flashrootHttps,
  'flashroot-s3': flashrootS3,
  'live-boot': liveBoot,
  dracut: dracutLive,
};

const OptionsSchema = z.object({
  boots: z.coerce.number().int().min(1).max(50).default(3),
  builds: z.coerce.number().int().min(1).max(50).default(3),
  tools: z
    .string()
    .default(Object.keys(TOOLS).join(','))
    .transform((s) => s.split(',').filter(Boolean))
    .refine((names) => names.length > 0 && names.every((n) => n in TOOLS), `must be a comma list of ${Object.keys(TOOLS).join(', ')}`),
  buildRoot: z.enum(['minbase', 'demo']).default('minbase'),
  out: z.string().default(fileURLToPath(new URL('RESULTS.md', import.meta.url))),
});

function parseOptions(argv: string[]): z.output<typeof OptionsSchema> {
  const { values } = parseArgs({
    args: argv,
    options: { boots: { type: 'string' }, builds: { type: 'string' }, tools: { type: 'string' }, 'build-root': { type: 'string' }, out: { type: 'string' } },
    strict: true,
  });
  const r = OptionsSchema.safeParse({ ...values, buildRoot: values['build-root'] });
  if (!r.success) {
    throw new UsageError(`invalid options:\n- ${r.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('\n- ')}`, 'see the usage at the top of bench/run.ts');
  }
  return r.data;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const report = await runBench({
    competitors: o.tools.map((name) => (TOOLS[name] as () => Competitor)()),
    boots: o.boots,
    builds: o.builds,
    buildRoot: o.buildRoot,
    reporter: new Reporter(false),
    // Rewritten after every round, so a run cut short still leaves its table.
    onRound: (partial) => writeFile(o.out, renderReport(partial)),
  });
  const markdown = renderReport(report);
  await writeFile(o.out, markdown);
  process.stdout.write(`${markdown}\nWritten to ${o.out}\n`);
}

main().catch((e: unknown) => {
  const err = e instanceof FlashrootError ? e : undefined;
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n${err?.hint ? `hint: ${err.hint}\n` : ''}`);
  process.exit(err?.exitCode ?? 1);
});
