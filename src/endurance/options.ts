/**
 * The `endurance` command's settings, each declared once: flag, default and validation. Commander
 * hands over strings; this turns them into typed values and reports every bad one at once.
 */
import { z } from 'zod';
import { FlashrootError, UsageError } from '../errors.js';
import { ENDURANCE_DEFAULTS as D } from './defaults.js';
import { NAND_TYPES } from './model.js';
import { outputFileProblem } from '../util/output-path.js';
import { parseHours, parseSize } from '../util/units.js';

/** The parser's hint rides along in the issue's params, so the report can keep it. */
function converted(flag: string, parse: (text: string, what: string) => number) {
  return z.string().transform((text, ctx) => {
    try {
      return parse(text, flag);
    } catch (err) {
      const hint = err instanceof FlashrootError ? err.hint : undefined;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: err instanceof Error ? err.message : String(err), params: { hint } });
      return z.NEVER;
    }
  });
}

const size = (flag: string) => converted(flag, parseSize);
const hours = (flag: string) => converted(flag, parseHours);
const positiveNumber = (flag: string) => z.coerce.number({ invalid_type_error: `${flag} must be a number` }).positive(`${flag} must be positive`);

export const enduranceOptionsSchema = z.object({
  // A pipe, not a refine: a refine would also run on an unreadable size and report it twice.
  capacity: size('--capacity').pipe(z.number().positive('--capacity must be more than 0')),
  nand: z.enum(NAND_TYPES, { message: `--nand must be one of ${NAND_TYPES.join(', ')}` }).default(D.nand),
  pe: positiveNumber('--pe').optional(),
  waf: z
    .string()
    .default(D.waf)
    .transform((v, ctx) => {
      if (v === 'auto') return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 1) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `--waf must be 'auto' or a number ≥ 1, not '${v}'` });
      return n;
    }),
  dailyWrites: size('--daily-writes').optional(),
  writeSize: size('--write-size').default(D.writeSize),
  eraseBlock: size('--erase-block').default(D.eraseBlock),
  page: size('--page').default(D.page),
  save: size('--save').default(D.save),
  savesFrom: z.string().optional(),
  saveEvery: hours('--save-every').default(D.saveEvery),
  imageSize: size('--image-size').optional(),
  reflashEvery: hours('--reflash-every').default(D.reflashEvery),
  measure: z.string().optional(),
  rwImage: z.string().optional(),
  workload: z.string().optional(),
  minutes: positiveNumber('--minutes').default(Number(D.minutes)),
  svg: z.string().optional(),
  json: z.boolean().default(false),
});

export type EnduranceOptions = z.infer<typeof enduranceOptionsSchema>;

export function parseEnduranceOptions(raw: Record<string, unknown>, more: readonly string[] = []): EnduranceOptions {
  const r = enduranceOptionsSchema.safeParse(raw);
  if (r.success && more.length === 0) return r.data;
  const issues = r.success ? [] : r.error.issues;
  // Each message names its flag already; the few zod writes itself get the flag put in front.
  const lines = [...issues.map((i) => `${i.message.startsWith('--') ? '' : `--${kebab(String(i.path[0]))}: `}${i.message}`), ...more];
  const hints = new Set(issues.map((i) => (i.code === z.ZodIssueCode.custom ? (i.params?.hint as string | undefined) : undefined)).filter(Boolean));
  throw new UsageError(`Invalid endurance settings:\n- ${lines.join('\n- ')}`, [...hints, 'See flashroot endurance --help.'].join(' '));
}

/** parseEnduranceOptions, and whether the --svg file can be written: before a measurement of minutes, not after. */
export async function checkEnduranceOptions(raw: Record<string, unknown>): Promise<EnduranceOptions> {
  const svg = typeof raw.svg === 'string' ? await outputFileProblem(raw.svg, { example: 'endurance.svg' }) : undefined;
  return parseEnduranceOptions(raw, svg ? [`--svg: ${svg}`] : []);
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
