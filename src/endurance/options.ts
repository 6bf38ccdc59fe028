/**
 * The `endurance` command's settings, each declared once: flag, default and validation. Commander
 * hands over strings; this turns them into typed values and reports every bad one at once.
 */
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { ENDURANCE_DEFAULTS as D } from './defaults.js';
import { NAND_TYPES } from './model.js';
import { parseHours, parseSize } from '../util/units.js';

function converted(flag: string, parse: (text: string, what: string) => number) {
  return z.string().transform((text, ctx) => {
    try {
      return parse(text, flag);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  });
}

const size = (flag: string) => converted(flag, parseSize);
const hours = (flag: string) => converted(flag, parseHours);
const positiveNumber = (flag: string) => z.coerce.number({ invalid_type_error: `${flag} must be a number` }).positive(`${flag} must be positive`);

export const enduranceOptionsSchema = z.object({
  capacity: size('--capacity').refine((n) => n > 0, '--capacity must be more than 0'),
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

export function parseEnduranceOptions(raw: Record<string, unknown>): EnduranceOptions {
  const r = enduranceOptionsSchema.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `- ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  throw new UsageError(`Invalid endurance settings:\n${lines.join('\n')}`, 'See flashroot endurance --help.');
}
