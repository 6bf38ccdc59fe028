/**
 * The build's settings, declared once: defaults, validation and the problems reported together.
 */
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { INITRD_COMPRESSORS } from '../initramfs/compress.js';
import { CHANNEL_NAME } from '../network/channel.js';
import { HTTP_CLIENTS, lowerProblem, parseLower } from '../network/lower.js';
import { IDENTITY_MODES } from '../root/identity.js';
import { normalisePattern } from '../root/glob.js';
import { COMPRESSORS } from '../squashfs/mksquashfs.js';
import { parseSize } from '../util/units.js';
import { outputFileProblem } from '../util/output-path.js';
import { MIB, MIN_IMAGE } from '../disk/layout.js';
import { DEFAULT_SAVES_BYTES, MIN_SAVES_BYTES } from '../stick/saves-area.js';
import { MIN_COPY_BYTES } from '../stick/channel-copy.js';

export const BOOT_MODES = ['hybrid', 'bios', 'uefi'] as const;
export type BootMode = (typeof BOOT_MODES)[number];
export const UEFI_LOADERS = ['shim', 'systemd-boot'] as const;
export type UefiLoader = (typeof UEFI_LOADERS)[number];

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
  // Generic by default: a stick built on one box often boots another, and a network lower needs
  // that box's NIC in the initramfs; host and a recorded FILE are smaller (sizes in the summary).
  hardware: z.string().min(1, 'give generic, host or a file from flashroot hardware --save').default('generic'),
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
    .transform((s) => (s === undefined ? undefined : bytesOf(s)))
    // Known before any work: no image is smaller, whatever the root holds.
    .refine((n) => n === undefined || n >= MIN_IMAGE, `must be at least ${MIN_IMAGE / MIB}MiB (1 MiB for the partition table, 64 MiB for the smallest FAT32)`),
  boot: z.enum(BOOT_MODES).default('hybrid'),
  upperSize: z
    .string()
    .regex(/^(\d+%|\d+[kmgKMG]?)$/, 'must be a size like 512M or a share of RAM like 50%')
    .refine((v) => !/^0+[kmgKMG%]?$/.test(v), 'must be more than 0 (tmpfs reads 0 as "no limit")')
    // Refused rather than clamped: a clamp would bake a value the user did not write into the stick.
    .refine((v) => !v.endsWith('%') || Number(v.slice(0, -1)) <= 100, 'at most 100% of RAM: a larger upper layer turns a full overlay into the OOM killer')
    .default('50%'),
  toram: z.enum(['', '1', 'strict']).default(''),
  verify: z.boolean().default(false),
  onfail: z.enum(['shell', 'poweroff']).default('shell'),
  timeout: z.coerce.number().int().min(1).max(600).default(30),
  menuTimeout: z.coerce.number().int().min(0).max(600).default(3),
  console: z.enum(['serial', 'screen']).default('serial'),
  quiet: z.boolean().default(false),
  uefiLoader: z.enum(UEFI_LOADERS).optional(),
  cmdline: z.string().default(''),
  // Issue 16: room in the FAT for a second system (flashroot update), a name people see for this
  // build in inspect and on the console, and when a non-systemd root counts as having come up.
  roomForUpdate: z.boolean().default(false),
  release: z.string().regex(/^[A-Za-z0-9._+~-]{1,40}$/, 'must be 1-40 characters among A-Z a-z 0-9 . _ + ~ -').optional(),
  confirmAfter: z.coerce.number().int().min(0).max(3600).default(60),
  reproducible: z.boolean().default(false),
  lower: z
    .string()
    .default('local')
    .superRefine((v, ctx) => {
      const problem = lowerProblem(v);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    }),
  endpoint: z.string().url().optional(),
  // A signed channel in the lower's directory instead of a baked root hash (docs/network.md).
  channel: z.string().regex(CHANNEL_NAME, 'must be 1-63 characters among a-z 0-9 . _ - (it names the manifest file on the server)').optional(),
  trust: z.string().optional(),
  // Issue 17: a copy of the last verified version on the stick, booted when the server cannot be
  // reached. `true` (the flag alone): room for two copies of twice this build's image.
  offlineCopy: z
    .union([z.boolean(), z.string()])
    .optional()
    .refine((v) => typeof v !== 'string' || bytesOf(v) !== undefined, 'must be a size like 512MiB (or no value: room for two copies of twice this image)')
    .transform((v) => (v === undefined || v === false ? undefined : { bytes: typeof v === 'string' ? bytesOf(v) : undefined }))
    .refine((c) => c?.bytes === undefined || c.bytes >= MIN_COPY_BYTES, `must be at least ${MIN_COPY_BYTES / MIB}MiB (a 4 MiB erase block for the superblock and one per copy slot)`),
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
  // Issue 15: what is kept across reboots, in the saves area (partition 2) the stick gets for it.
  persist: z
    .array(
      z
        .string()
        .startsWith('/', 'must be an absolute path as the booted system sees it, like /etc or /')
        .refine((p) => !p.split('/').includes('..'), 'must not contain ..')
        .refine((p) => !/\s/.test(p), 'must not contain spaces (the init keeps the list space-separated)')
        .transform((p) => (p === '/' ? p : p.replace(/\/+$/, ''))),
    )
    .default([]),
  persistSize: z
    .string()
    .optional()
    .refine((s) => s === undefined || bytesOf(s) !== undefined, 'must be a size like 64MiB')
    .transform((s) => (s === undefined ? undefined : bytesOf(s)))
    .refine((n) => n === undefined || n >= MIN_SAVES_BYTES, `must be at least ${MIN_SAVES_BYTES / MIB}MiB (a 4 MiB erase block for the superblock and one per slot)`),
  saveAtShutdown: z.boolean().default(true),
  // Hourly by default: a box whose power is cut (an HTPC often is) loses at most an hour of changes,
  // and an unchanged hour writes nothing; `flashroot endurance` prices it.
  saveEvery: z.coerce.number().int('must be a whole number of minutes').min(0).max(10_080).optional(),
  json: z.boolean().default(false),
});

/** The saves policy a build bakes in (undefined: no --persist, no saves area). */
export function savesPolicy(o: BuildOptions): { persist: string[]; bytes: number; saveAtShutdown: boolean; saveEvery: number } | undefined {
  if (o.persist.length === 0) return undefined;
  return { persist: [...new Set(o.persist)], bytes: o.persistSize ?? DEFAULT_SAVES_BYTES, saveAtShutdown: o.saveAtShutdown, saveEvery: o.saveEvery ?? 60 };
}

export type BuildOptionsInput = z.input<typeof BuildOptionsSchema>;
export type BuildOptions = z.output<typeof BuildOptionsSchema>;
type Field = keyof BuildOptions;

/** A rule over several settings; it is asked only when each of its fields is valid on its own. */
interface Rule {
  fields: readonly Field[];
  problem: (o: BuildOptions) => string | undefined;
}

const when = (cond: boolean, problem: string) => (cond ? problem : undefined);
const isTls = (o: BuildOptions) => o.lower.startsWith('https://') || Boolean(o.endpoint?.startsWith('https://'));

const RULES: readonly Rule[] = [
  { fields: ['demo', 'root'], problem: (o) => when(o.demo && Boolean(o.root), '--demo and --root: choose one') },
  { fields: ['signKey', 'signCert'], problem: (o) => when(Boolean(o.signKey) !== Boolean(o.signCert), '--sign-key and --sign-cert: give both or neither') },
  {
    fields: ['signKey', 'uefiLoader'],
    problem: (o) => when(Boolean(o.signKey) && o.uefiLoader === 'shim', '--sign-key with --uefi-loader shim: your key signs UKIs and systemd-boot; use --uefi-loader systemd-boot (or leave it out)'),
  },
  {
    fields: ['lower', 'endpoint'],
    problem: (o) => when(/^s3(fs)?:\/\//.test(o.lower) !== Boolean(o.endpoint), '--endpoint: required with --lower s3://… or s3fs://…, and only used with them'),
  },
  { fields: ['endpoint'], problem: (o) => when(Boolean(o.endpoint) && !/^https?:\/\//.test(o.endpoint ?? ''), '--endpoint: give an http:// or https:// URL') },
  {
    fields: ['httpClient', 'lower', 'endpoint', 'signedReads'],
    problem: (o) => {
      if (!o.httpClient) return undefined;
      // What the lower would be read with by default: only httpfs2's plain-http images have a choice.
      const byDefault = parseLower(o.lower, { ...o, httpClient: undefined });
      return when(
        byDefault.kind !== 'image' || byDefault.transport !== 'httpfs2',
        '--http-client: only for images read over plain http:// (https:// and signed S3 reads always use nbdkit)',
      );
    },
  },
  { fields: ['signedReads', 'endpoint'], problem: (o) => when(o.signedReads && !o.endpoint, '--signed-reads: only used with an S3 lower (--lower s3://… --endpoint URL)') },
  { fields: ['caCert', 'lower', 'endpoint'], problem: (o) => when(Boolean(o.caCert) && !isTls(o), '--ca-cert: only used with --lower https://… or an https:// --endpoint') },
  { fields: ['lower', 'sshKey'], problem: (o) => when(o.lower.startsWith('sshfs://') !== Boolean(o.sshKey), '--ssh-key: required with --lower sshfs://…, and only used with it') },
  { fields: ['sshKnownHosts', 'sshKey'], problem: (o) => when(Boolean(o.sshKnownHosts) && !o.sshKey, '--ssh-known-hosts: only used with --lower sshfs://… and --ssh-key') },
  { fields: ['channel', 'trust'], problem: (o) => when(Boolean(o.channel) !== Boolean(o.trust), '--channel and --trust: give both (the stick boots what the channel names only when signed by the --trust key) or neither') },
  {
    fields: ['channel', 'lower', 'endpoint', 'signedReads', 'httpClient'],
    problem: (o) => {
      if (!o.channel) return undefined;
      const lower = parseLower(o.lower, o);
      if (lower.kind !== 'image') return '--channel: only with an image lower, --lower http(s)://HOST/PATH/ or s3://BUCKET/PREFIX/ (the manifest and the images it names sit there)';
      return when(!o.lower.endsWith('/'), `--channel: --lower must be the channel's directory, ending in / (the manifest names the image), not ${o.lower}`);
    },
  },
  { fields: ['offlineCopy', 'channel'], problem: (o) => when(Boolean(o.offlineCopy) && !o.channel, '--offline-copy: only with --channel (the copy is of the last version the channel named, checked by its signature at each boot from it)') },
  { fields: ['signKey', 'boot'], problem: (o) => when(Boolean(o.signKey) && o.boot === 'bios', '--sign-key: signing applies to UEFI; use --boot hybrid or uefi') },
  ...(['exclude', 'excludeFrom', 'includeMount'] as const).map((flag): Rule => ({
    fields: [flag, 'root'],
    problem: (o) => {
      const v = o[flag];
      return when(!o.root && Boolean(Array.isArray(v) ? v.length : v), `--${kebab(flag)}: only with --root (the demo root is made to be booted as it is)`);
    },
  })),
  { fields: ['identity', 'root'], problem: (o) => when(!o.root && o.identity !== 'keep', '--identity: only with --root (the demo root has no identity to reset)') },
  {
    fields: ['persist', 'lower'],
    problem: (o) => when(o.persist.length > 0 && o.lower !== 'local', '--persist: only with --lower local (saves live on the stick, which a network lower does not mount)'),
  },
  {
    fields: ['persist', 'persistSize', 'saveEvery'],
    problem: (o) => when(o.persist.length === 0 && (o.persistSize !== undefined || o.saveEvery !== undefined), '--persist-size, --save-every: only with --persist PATH'),
  },
];

/** Every problem with the settings: each field's own, then the rules over the fields that passed. */
function optionProblems(input: BuildOptionsInput): { data?: BuildOptions; problems: string[] } {
  const r = BuildOptionsSchema.safeParse(input);
  if (r.success) return { data: r.data, problems: RULES.map((rule) => rule.problem(r.data)).filter((p): p is string => p !== undefined) };
  const failed = new Set(r.error.issues.map((i) => String(i.path[0])));
  const problems = r.error.issues.map((i) => `--${kebab(String(i.path[0]))}${valueOf(input, i.path)}: ${i.message}`);
  // The valid fields, with defaults in place of the invalid ones, so their rules are still asked.
  const rest = BuildOptionsSchema.safeParse(Object.fromEntries(Object.entries(input).filter(([k]) => !failed.has(k))));
  if (rest.success) {
    for (const rule of RULES) {
      if (rule.fields.some((f) => failed.has(f))) continue;
      const p = rule.problem(rest.data);
      if (p) problems.push(p);
    }
  }
  return { problems };
}

function refuse(problems: readonly string[]): UsageError {
  return new UsageError(`invalid options:\n- ${problems.join('\n- ')}`, 'see flashroot build --help');
}

/** The settings' own checks, without touching the filesystem. */
export function parseBuildOptions(input: BuildOptionsInput): BuildOptions {
  const { data, problems } = optionProblems(input);
  if (!data || problems.length) throw refuse(problems);
  return data;
}

/** parseBuildOptions, and whether --out can be created; all problems reported at once. */
export async function checkBuildOptions(input: BuildOptionsInput): Promise<BuildOptions> {
  const { data, problems } = optionProblems(input);
  const out = await outputFileProblem(data?.out ?? input.out ?? 'images/flashroot.img', { example: 'stick.img', createsParents: true });
  if (out) problems.push(`--out: ${out}`);
  if (!data || problems.length) throw refuse(problems);
  return data;
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
