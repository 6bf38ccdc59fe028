/**
 * A signed channel: instead of a root hash baked into the stick, the stick carries where a channel
 * lives and a public key, and at boot it fetches one small manifest naming the image to run. This
 * module owns the manifest's format (render, parse, validation), the on-stick rollback floor and
 * the signify key files; overlays/init/46-channel.sh parses the same fields (a unit test checks
 * that the two agree).
 *
 * The manifest is line based, `KEY VALUE` with one space, in a fixed order, and signed with
 * signify's embedded mode (`signify -S -e`): one object holds the signature and the message, so a
 * boot fetches one small file. Every value is lower-case letters, digits, `.`, `_` or `-`, so the
 * init's shell can check each with a case pattern. The image is named, not located: the stick
 * reads it from the directory its channel is in, so a manifest cannot send a stick to another
 * server.
 */
import { FlashrootError, InputError, SafetyError } from '../errors.js';
import { IMAGE_NAME } from './lower.js';

export const CHANNEL_FORMAT = 1;
/** What a channel may be called: it is part of a file name on the server and of the manifest. */
export const CHANNEL_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** The fields, in the order they are rendered and must appear. */
export const CHANNEL_FIELDS = ['flashroot-channel', 'channel', 'version', 'expires', 'image', 'bytes', 'data-blocks', 'hash-start', 'root-hash', 'salt'] as const;
/** Versions and sizes the boot-time shell compares as numbers: decimal, no leading zero, at most 18 digits (busybox sh is 64-bit). */
const NUMBER = /^[1-9][0-9]{0,17}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export interface ChannelManifest {
  channel: string;
  /** Monotonic: a stick refuses a version older than the newest it has accepted. */
  version: number;
  /** Unix time after which a stick refuses the manifest (a frozen server cannot keep a fleet on an old root). */
  expires: number;
  /** root-<sha256>.sqfs, in the channel's directory. */
  image: string;
  bytes: number;
  dataBlocks: number;
  hashStart: number;
  rootHash: string;
  salt: string;
}

/** The manifest's object name in the channel's directory (or bucket prefix). */
export function manifestName(channel: string): string {
  return `${channel}.channel`;
}

export class ChannelError extends FlashrootError {
  constructor(message: string, hint: string) {
    super('ECHANNEL', message, { hint, exitCode: 3 });
  }
}

export function renderManifest(m: ChannelManifest): string {
  const problem = manifestProblem(m);
  if (problem) throw new ChannelError(`cannot write the channel manifest: ${problem}`, 'report this as a bug');
  const values: Record<(typeof CHANNEL_FIELDS)[number], string | number> = {
    'flashroot-channel': CHANNEL_FORMAT,
    channel: m.channel,
    version: m.version,
    expires: m.expires,
    image: m.image,
    bytes: m.bytes,
    'data-blocks': m.dataBlocks,
    'hash-start': m.hashStart,
    'root-hash': m.rootHash,
    salt: m.salt,
  };
  return CHANNEL_FIELDS.map((k) => `${k} ${values[k]}\n`).join('');
}

function manifestProblem(m: ChannelManifest): string | undefined {
  if (!CHANNEL_NAME.test(m.channel)) return `channel '${m.channel}' is not a channel name`;
  for (const [k, v] of [['version', m.version], ['expires', m.expires], ['bytes', m.bytes], ['data-blocks', m.dataBlocks], ['hash-start', m.hashStart]] as const) {
    if (!Number.isSafeInteger(v) || !NUMBER.test(String(v))) return `${k} ${v} is not a positive whole number`;
  }
  if (!IMAGE_NAME.test(m.image)) return `image '${m.image}' is not a content-addressed name (root-<sha256>.sqfs)`;
  if (!HEX64.test(m.rootHash)) return `root-hash '${m.rootHash}' is not 64 hex digits`;
  if (!HEX64.test(m.salt)) return `salt '${m.salt}' is not 64 hex digits`;
  if (m.hashStart < m.dataBlocks) return `hash-start ${m.hashStart} lies inside the data (${m.dataBlocks} blocks)`;
  return undefined;
}

/** The manifest in `text` (the signed message), or the first problem with it. Mirrors fr_channel_parse. */
export function parseManifest(text: string): ChannelManifest {
  const fail = (problem: string) => new ChannelError(`not a channel manifest: ${problem}`, 'publish the channel with flashroot publish --channel');
  if (!text.endsWith('\n')) throw fail('it does not end with a line break');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length !== CHANNEL_FIELDS.length) throw fail(`${lines.length} lines, a manifest has ${CHANNEL_FIELDS.length}`);
  const v: Record<string, string> = {};
  lines.forEach((line, i) => {
    const m = /^([a-z][a-z-]*) ([a-z0-9._-]+)$/.exec(line);
    if (!m) throw fail(`line ${i + 1} '${line}' is not 'KEY VALUE'`);
    if (m[1] !== CHANNEL_FIELDS[i]) throw fail(`line ${i + 1} is '${m[1]}', expected '${CHANNEL_FIELDS[i]}'`);
    v[m[1] ?? ''] = m[2] ?? '';
  });
  if (v['flashroot-channel'] !== String(CHANNEL_FORMAT)) throw fail(`format ${v['flashroot-channel']}, this flashroot reads ${CHANNEL_FORMAT}`);
  for (const k of ['version', 'expires', 'bytes', 'data-blocks', 'hash-start']) {
    if (!NUMBER.test(v[k] ?? '')) throw fail(`${k} '${v[k]}' is not a positive whole number`);
  }
  const m: ChannelManifest = {
    channel: v.channel ?? '',
    version: Number(v.version),
    expires: Number(v.expires),
    image: v.image ?? '',
    bytes: Number(v.bytes),
    dataBlocks: Number(v['data-blocks']),
    hashStart: Number(v['hash-start']),
    rootHash: v['root-hash'] ?? '',
    salt: v.salt ?? '',
  };
  const problem = manifestProblem(m);
  if (problem) throw fail(problem);
  return m;
}

/** The message of a signify embedded signature (`untrusted comment:` line, signature line, message), unverified. */
export function embeddedMessage(signed: string): string {
  const lines = signed.split('\n');
  if (!lines[0]?.startsWith('untrusted comment: ') || lines.length < 3) {
    throw new ChannelError('not a signify embedded signature (untrusted comment, signature, message)', 'publish the channel with flashroot publish --channel');
  }
  return lines.slice(2).join('\n');
}

/**
 * The rollback floor: the highest version this stick has accepted, in one 512-byte file on the FAT
 * (CHANNEL_FLOOR_PATH), padded with NULs. The init rewrites it in place (dd conv=notrunc) only when
 * a version above it booted, so the FAT's allocation never changes.
 */
export const FLOOR_BYTES = 512;

export function renderFloor(channel: string, version: number): Buffer {
  const text = `flashroot-floor 1\nchannel ${channel}\nversion ${version}\n`;
  const out = Buffer.alloc(FLOOR_BYTES);
  out.write(text, 'latin1');
  return out;
}

export function parseFloor(data: Buffer): { channel: string; version: number } {
  const m = /^flashroot-floor 1\nchannel ([a-z0-9._-]+)\nversion (0|[1-9][0-9]{0,17})\n\0*$/.exec(data.toString('latin1'));
  if (data.length !== FLOOR_BYTES || !m) throw new ChannelError('not a rollback floor file', 'the stick was not built with --channel, or its FAT is damaged');
  return { channel: m[1] ?? '', version: Number(m[2]) };
}

/**
 * signify's files are an `untrusted comment:` line, then base64 of `Ed` (the algorithm), an
 * 8-byte key number and the key or signature; the key number is what signify matches a signature
 * to its key by, and it is the same in a public key, its secret key and every signature made with
 * it. Public key: Ed, keynum, 32-byte key (42 bytes). Secret key: Ed, kdf `BK`, 4-byte kdf rounds
 * (0 when made with -n: no passphrase), 16-byte salt, 8-byte checksum, keynum, 64-byte key (104
 * bytes; the key number is stored in the clear either way). Signature: Ed, keynum, 64 bytes (74).
 */
function signifyBlob(text: string, bytes: number): Buffer | undefined {
  const [comment, b64] = text.split('\n');
  const raw = Buffer.from(b64 ?? '', 'base64');
  if (!comment?.startsWith('untrusted comment: ') || raw.length !== bytes || raw.subarray(0, 2).toString('latin1') !== 'Ed') return undefined;
  return raw;
}

/** The key number (hex) of a signify public or secret key file, or throws saying what is wrong. */
export function signifyKeyNumber(text: string, file: string, kind: 'public' | 'secret'): string {
  return kind === 'public' ? signifyPublicKey(text, file) : signifySecretKey(text, file).keyNumber;
}

function signifyPublicKey(text: string, file: string): string {
  const raw = signifyBlob(text, 42);
  if (!raw) throw new InputError(file, `${file} is not a signify public key`, 'make a key pair with signify-openbsd -G -n -p fleet.pub -s fleet.sec and give fleet.pub');
  return raw.subarray(2, 10).toString('hex');
}

export interface SignifySecretKey {
  keyNumber: string;
  /** Made without -n: signify asks for a passphrase on the terminal before it signs. */
  encrypted: boolean;
}

export function signifySecretKey(text: string, file: string): SignifySecretKey {
  const raw = signifyBlob(text, 104);
  if (!raw || raw.subarray(2, 4).toString('latin1') !== 'BK') throw new InputError(file, `${file} is not a signify secret key`, 'give the .sec file made by signify-openbsd -G (fleet.sec)');
  return { keyNumber: raw.subarray(32, 40).toString('hex'), encrypted: raw.readUInt32BE(4) !== 0 };
}

/** The key number (hex) of the signature in a signify embedded-signature file (its second line). */
export function signatureKeyNumber(signed: string, where: string): string {
  const raw = signifyBlob(signed, 74);
  if (!raw) throw new ChannelError(`${where} does not hold a signify signature`, 'check what is there; publish the channel with flashroot publish --channel');
  return raw.subarray(2, 10).toString('hex');
}

/**
 * A refusal to sign a channel with a key its sticks do not trust: every box following the channel
 * would refuse the manifest at its next boot. Carries both key numbers.
 */
export class SigningKeyError extends SafetyError {
  constructor(
    message: string,
    readonly signKeyNumber: string,
    readonly trustedKeyNumber: string,
    hint: string,
  ) {
    super(message, ['a channel is signed by the key its sticks trust'], hint);
  }
}

/** `7d`, `12h`, `30m`, `90s` (or plain seconds) in seconds: how long a published manifest stays valid. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m?.[2] ?? ''] ?? 1;
  const n = Number(m?.[1]) * unit;
  if (!m || n <= 0) throw new InputError(text, `--expires-in ${text}: not a duration like 30d, 12h or 90m`, 'give how long boxes may boot this version without a newer manifest');
  return n;
}
