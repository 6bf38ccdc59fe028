/**
 * The build's settings, declared once: defaults, validation and the problems reported together.
 */
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { INITRD_COMPRESSORS } from '../initramfs/compress.js';
import { HTTP_CLIENTS, lowerProblem, parseLower } from '../network/lower.js';
import { IDENTITY_MODES } from '../root/identity.js';
import { normalisePattern } from '../root/glob.js';
import { COMPRESSORS } from '../squashfs/mksquashfs.js';
import { parseSize } from '../util/units.js';

export const BOOT_MODES = ['hybrid', 'bios', 'uefi'] as const;
export type BootMode = (typeof BOOT_MODES)[number];

/** Sizes as src/util/units reads them (G = 10^9 as sticks are sold, GiB = 2^30); undefined if unreadable. */
function bytesOf(text: string): number | undefined {
  try {
    return Math.round(parseSize(text, '--size'));
  } catch {
    return undefined;
  }
}

/** An exclude pattern must name something inside the root: no `..`, not the root itself. */
const excludePattern = z
  .string()
  .transform(normalisePattern)
  .refine((p) => p !== '', 'an empty pattern (or `/`) would leave out the whole root')
  .refine((p) => !p.split('/').includes('..'), 'patterns are relative to the root; `..` would leave it');

export const BuildOptionsSchema = z.object({
  root: z.string().optional(),
  demo: z.boolean().default(false),
  init: z.string().startsWith('/', 'must be an absolute path inside the root').default('/sbin/init'),
  kernel: z.string().optional(),
  modules: z.string().optional(),
  out: z.string().default('images/flashroot.img'),
  comp: z.enum(COMPRESSORS).default('zstd'),
  initrdComp: z.enum(INITRD_COMPRESSORS).default('zstd'),
  label: z
    .string()
    .regex(/^[A-Z0-9_-]{1,11}$/, 'must be 1-11 characters among A-Z 0-9 _ - (FAT labels are upper case)')
    .default('FLASHROOT'),
  size: z
    .string()
    .optional()
    .refine((s) => s === undefined || bytesOf(s) !== undefined, 'must be a size like 2G (10^9 bytes, as sticks are sold) or 2GiB')
    .transform((s) => (s === undefined ? undefined : bytesOf(s))),
  boot: z.enum(BOOT_MODES).default('hybrid'),
  upperSize: z
    .string()
    .regex(/^(\d+%|\d+[kmgKMG]?)$/, 'must be a size like 512M or a share of RAM like 50%')
    .default('50%'),
  toram: z.enum(['', '1', 'strict']).default(''),
  verify: z.boolean().default(false),
  onfail: z.enum(['shell', 'poweroff']).default('shell'),
  timeout: z.coerce.number().int().min(1).max(600).default(30),
  menuTimeout: z.coerce.number().int().min(0).max(600).default(3),
  console: z.enum(['serial', 'screen']).default('serial'),
  cmdline: z.string().default(''),
  reproducible: z.boolean().default(false),
  lower: z
    .string()
    .default('local')
    .superRefine((v, ctx) => {
      const problem = lowerProblem(v);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    }),
  endpoint: z.string().url().optional(),
  signedReads: z.boolean().default(false),
  httpClient: z.enum(HTTP_CLIENTS).optional(),
  sshKey: z.string().optional(),
  sshKnownHosts: z.string().optional(),
  caCert: z.string().optional(),
  signKey: z.string().optional(),
  signCert: z.string().optional(),
  exclude: z.array(excludePattern).default([]),
  excludeFrom: z.string().optional(),
  includeMount: z.array(z.string().startsWith('/', 'must be an absolute path as the booted system sees it, like /home')).default([]),
  identity: z.enum(IDENTITY_MODES).default('keep'),
  json: z.boolean().default(false),
});

export type BuildOptionsInput = z.input<typeof BuildOptionsSchema>;
export type BuildOptions = z.output<typeof BuildOptionsSchema>;

export function parseBuildOptions(input: BuildOptionsInput): BuildOptions {
  const r = BuildOptionsSchema.safeParse(input);
  const problems = r.success ? [] : r.error.issues.map((i) => `--${kebab(String(i.path[0]))}${valueOf(input, i.path)}: ${i.message}`);
  if (r.success) {
    if (r.data.demo && r.data.root) problems.push('--demo and --root: choose one');
    if (Boolean(r.data.signKey) !== Boolean(r.data.signCert)) problems.push('--sign-key and --sign-cert: give both or neither');
    if (/^s3(fs)?:\/\//.test(r.data.lower) !== Boolean(r.data.endpoint)) problems.push('--endpoint: required with --lower s3://… or s3fs://…, and only used with them');
    if (r.data.endpoint && !/^https?:\/\//.test(r.data.endpoint)) problems.push('--endpoint: give an http:// or https:// URL');
    if (r.data.httpClient) {
      // What the lower would be read with by default: only httpfs2's plain-http images have a choice.
      const byDefault = lowerProblem(r.data.lower) ? undefined : parseLower(r.data.lower, { ...r.data, httpClient: undefined });
      if (byDefault?.kind !== 'image' || byDefault.transport !== 'httpfs2') {
        problems.push('--http-client: only for images read over plain http:// (https:// and signed S3 reads always use rclone)');
      }
    }
    if (r.data.signedReads && !r.data.endpoint) problems.push('--signed-reads: only used with an S3 lower (--lower s3://… --endpoint URL)');
    const tls = r.data.lower.startsWith('https://') || Boolean(r.data.endpoint?.startsWith('https://'));
    if (r.data.caCert && !tls) problems.push('--ca-cert: only used with --lower https://… or an https:// --endpoint');
    if (r.data.lower.startsWith('sshfs://') !== Boolean(r.data.sshKey)) problems.push('--ssh-key: required with --lower sshfs://…, and only used with it');
    if (r.data.sshKnownHosts && !r.data.sshKey) problems.push('--ssh-known-hosts: only used with --lower sshfs://… and --ssh-key');
    for (const flag of ['exclude', 'excludeFrom', 'includeMount'] as const) {
      const v = r.data[flag];
      if (!r.data.root && (Array.isArray(v) ? v.length : v)) problems.push(`--${kebab(flag)}: only with --root (the demo root is made to be booted as it is)`);
    }
    if (!r.data.root && r.data.identity !== 'keep') problems.push('--identity: only with --root (the demo root has no identity to reset)');
    if (r.data.signKey && r.data.boot === 'bios') problems.push('--sign-key: signing applies to UEFI; use --boot hybrid or uefi');
  }
  if (!r.success || problems.length) {
    throw new UsageError(`invalid options:\n- ${problems.join('\n- ')}`, 'see flashroot build --help');
  }
  return r.data;
}

/** For a repeatable option, the offending value: `--exclude '../x'`. */
function valueOf(input: BuildOptionsInput, path: (string | number)[]): string {
  const [key, index] = path;
  if (typeof index !== 'number') return '';
  const list = (input as Record<string, unknown>)[String(key)];
  return Array.isArray(list) ? ` '${String(list[index])}'` : '';
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
