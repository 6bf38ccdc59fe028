/**
 * The channel manifest has one owner (src/network/channel.ts) and a second reader, the init's
 * shell (fr_channel_parse in overlays/init/46-channel.sh): both must accept exactly the same
 * documents and read the same values from them. Also the floor file and key formats.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_FIELDS, parseFloor, parseManifest, renderFloor, renderManifest, signatureKeyNumber, signifyKeyNumber, signifySecretKey, type ChannelManifest } from '../../../src/network/channel.js';
import { VERITY_TABLE_TEMPLATE, verityTable } from '../../../src/network/verity.js';
import { initSandbox, type InitSandbox } from '../../helpers/init-sandbox.js';

const GOOD: ChannelManifest = {
  channel: 'stable',
  version: 7,
  expires: 1767225600,
  image: `root-${'ab'.repeat(32)}.sqfs`,
  bytes: 13_701_120,
  dataBlocks: 3312,
  hashStart: 3312,
  rootHash: 'cd'.repeat(32),
  salt: 'ef'.repeat(32),
};

let sb: InitSandbox;
beforeAll(async () => {
  sb = await initSandbox();
});

let n = 0;
/** What the shell makes of a manifest: its values as TS names them, or its problem. */
async function shellParse(text: string): Promise<{ ok: true; m: ChannelManifest } | { ok: false; problem: string }> {
  const file = join(sb.dir, `manifest-${n++}`);
  await writeFile(file, text);
  const r = await sb.run(`if fr_channel_parse ${file} >${file}.err; then
echo "OK $FR_CH_CHANNEL $FR_CH_VERSION $FR_CH_EXPIRES $FR_CH_IMAGE $FR_CH_BYTES $FR_CH_BLOCKS $FR_CH_HASH_START $FR_CH_ROOT_HASH $FR_CH_SALT"
else echo "NO $(cat ${file}.err)"; fi`);
  const out = r.stdout.trim();
  if (!out.startsWith('OK ')) return { ok: false, problem: out.slice(3) };
  const [channel = '', version, expires, image = '', bytes, dataBlocks, hashStart, rootHash = '', salt = ''] = out.slice(3).split(' ');
  return { ok: true, m: { channel, version: Number(version), expires: Number(expires), image, bytes: Number(bytes), dataBlocks: Number(dataBlocks), hashStart: Number(hashStart), rootHash, salt } };
}

function tsParse(text: string): { ok: true; m: ChannelManifest } | { ok: false; problem: string } {
  try {
    return { ok: true, m: parseManifest(text) };
  } catch (e) {
    return { ok: false, problem: (e as Error).message };
  }
}

const good = renderManifest(GOOD);
const replace = (field: string, value: string) => good.replace(new RegExp(`^${field} .*$`, 'm'), `${field} ${value}`);
const BAD: Record<string, string> = {
  'no final line break': good.slice(0, -1),
  'a missing field': good.replace(/^salt .*\n/m, ''),
  'an extra line': `${good}extra x\n`,
  'a blank line': good.replace('\nversion', '\n\nversion'),
  'fields out of order': good.replace(/^(version .*)\n(expires .*)$/m, '$2\n$1'),
  'another format': replace('flashroot-channel', '2'),
  'a leading zero': replace('version', '07'),
  'version 0': replace('version', '0'),
  'a negative number': replace('bytes', '-5'),
  'a number too long for the shell': replace('expires', '1'.repeat(19)),
  'two spaces': good.replace('version 7', 'version  7'),
  'a tab': good.replace('version 7', 'version\t7'),
  'a trailing space': good.replace('version 7', 'version 7 '),
  'two values': good.replace('version 7', 'version 7 8'),
  'upper-case hex': replace('root-hash', 'CD'.repeat(32)),
  'a short root hash': replace('root-hash', 'cd'.repeat(31)),
  'a salt with a non-hex letter': replace('salt', `${'ef'.repeat(31)}eg`),
  'an image that is not content-addressed': replace('image', 'root-latest.sqfs'),
  'an image in another directory': replace('image', `..-root-${'ab'.repeat(32)}.sqfs`),
  'a channel name starting with a dot': replace('channel', '.hidden'),
  'a channel name of 64 characters': replace('channel', 'a'.repeat(64)),
  'a hash tree inside the data': replace('hash-start', '3311'),
  'a shell metacharacter': replace('channel', 'stable;reboot'),
  'a dollar': replace('channel', '$(reboot)'),
};

describe('channel manifest: the TypeScript and the init read the same documents alike', () => {
  it('renders the fields in order, one "KEY VALUE" a line', () => {
    expect(good.split('\n').slice(0, -1).map((l) => l.split(' ')[0])).toEqual([...CHANNEL_FIELDS]);
    expect(parseManifest(good)).toEqual(GOOD);
  });

  it('the init reads every value of a rendered manifest as the TypeScript does', async () => {
    for (const m of [GOOD, { ...GOOD, channel: 'beta-2.x_y', version: 999_999_999_999, hashStart: 4000 }]) {
      const text = renderManifest(m);
      expect(await shellParse(text)).toEqual({ ok: true, m });
      expect(tsParse(text)).toEqual({ ok: true, m });
    }
  });

  it.each(Object.entries(BAD))('both refuse a manifest with %s', async (_what, text) => {
    const ts = tsParse(text);
    const sh = await shellParse(text);
    expect(ts.ok, JSON.stringify(ts)).toBe(false);
    expect(sh.ok, JSON.stringify(sh)).toBe(false);
  });

  it('refuses to render what it could not read back', () => {
    expect(() => renderManifest({ ...GOOD, version: 0 })).toThrow(/version 0/);
    expect(() => renderManifest({ ...GOOD, image: 'x.sqfs' })).toThrow(/content-addressed/);
  });

  it('the init fills the verity table template into the table the pinned mode bakes', async () => {
    const r = await sb.run(`FR_CH_TABLE='${VERITY_TABLE_TEMPLATE}'; FR_CH_SECTORS_PER_BLOCK=8
FR_CH_BLOCKS=3312 FR_CH_HASH_START=3312 FR_CH_ROOT_HASH=${GOOD.rootHash} FR_CH_SALT=${GOOD.salt}
echo "$FR_CH_TABLE" | sed "s|@SECTORS@|$((FR_CH_BLOCKS * FR_CH_SECTORS_PER_BLOCK))|; s|@BLOCKS@|$FR_CH_BLOCKS|; s|@HASH_START@|$FR_CH_HASH_START|; s|@ROOT_HASH@|$FR_CH_ROOT_HASH|; s|@SALT@|$FR_CH_SALT|"`);
    expect(r.stdout.trim()).toBe(verityTable({ rootHash: GOOD.rootHash, salt: GOOD.salt, dataBlocks: 3312, hashStartBlock: 3312, imageBytes: 0 }, '@DEV@'));
  });
});

describe('rollback floor file', () => {
  it('is one sector, read back by the TypeScript and by the init', async () => {
    const floor = renderFloor('stable', 12);
    expect(floor.length).toBe(512);
    expect(parseFloor(floor)).toEqual({ channel: 'stable', version: 12 });
    const file = join(sb.dir, 'floor');
    await writeFile(file, floor);
    const r = await sb.run(`fr_channel_read_floor ${file} && echo "floor $FR_CH_FLOOR"`);
    expect(r.stdout.trim()).toBe('floor 12');
    await writeFile(file, renderFloor('stable', 0));
    expect((await sb.run(`fr_channel_read_floor ${file} && echo "floor $FR_CH_FLOOR"`)).stdout.trim()).toBe('floor 0');
  });

  it('the init writes the same bytes renderFloor does', async () => {
    const file = join(sb.dir, 'floor-written');
    await sb.run(`dd if=/dev/zero of=${file} bs=512 count=1 2>/dev/null; fr_channel_floor_text stable 13 | dd of=${file} conv=notrunc 2>/dev/null`);
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(file)).equals(renderFloor('stable', 13))).toBe(true);
  });

  it('a damaged floor is refused by both', async () => {
    const file = join(sb.dir, 'floor-bad');
    await writeFile(file, Buffer.alloc(512));
    expect(() => parseFloor(Buffer.alloc(512))).toThrow(/not a rollback floor/);
    expect((await sb.run(`fr_channel_read_floor ${file} && echo ok || echo refused`)).stdout.trim()).toBe('refused');
  });
});

describe('signify key files', () => {
  it('reads the key number of a public and a secret key, and refuses other files', () => {
    // Made with signify-openbsd -G -n: the same key number in both halves.
    const pub = 'untrusted comment: fleet A public key\nRWSjyyiQtR/9UM7INiHawbNffHbBvCNNF+1Ks6oluWvXvLyVo+AGqjJL\n';
    expect(signifyKeyNumber(pub, 'a.pub', 'public')).toBe(Buffer.from('RWSjyyiQtR/9UM7I', 'base64').subarray(2, 10).toString('hex'));
    expect(() => signifyKeyNumber('-----BEGIN PUBLIC KEY-----\n', 'k.pem', 'public')).toThrow(/not a signify public key/);
    expect(() => signifyKeyNumber(pub, 'a.pub', 'secret')).toThrow(/not a signify secret key/);
  });

  // A secret key is Ed BK, kdf rounds, salt, checksum, keynum, key; a signature is Ed, keynum, 64 bytes.
  const keynum = Buffer.from('0123456789abcdef', 'hex');
  const secret = (rounds: number) => {
    const raw = Buffer.alloc(104);
    raw.write('EdBK', 'latin1');
    raw.writeUInt32BE(rounds, 4);
    keynum.copy(raw, 32);
    return `untrusted comment: signify secret key\n${raw.toString('base64')}\n`;
  };
  const signature = (num: Buffer) => `untrusted comment: verify with k.pub\n${Buffer.concat([Buffer.from('Ed'), num, Buffer.alloc(64)]).toString('base64')}\nflashroot-channel 1\n`;

  it('reads a secret key: its key number, and whether it needs a passphrase (kdf rounds not 0)', () => {
    expect(signifySecretKey(secret(0), 'k.sec')).toEqual({ keyNumber: '0123456789abcdef', encrypted: false });
    expect(signifySecretKey(secret(42), 'k.sec')).toEqual({ keyNumber: '0123456789abcdef', encrypted: true });
    expect(signifyKeyNumber(secret(42), 'k.sec', 'secret')).toBe('0123456789abcdef');
    const notBk = secret(0).replace(/\n(.*)\n$/, (_, b64: string) => `\n${Buffer.from(b64, 'base64').fill(0, 2, 4).toString('base64')}\n`);
    expect(() => signifySecretKey(notBk, 'k.sec')).toThrow(/not a signify secret key/);
  });

  it('reads the key number of an embedded signature, the same as its key\'s', () => {
    expect(signatureKeyNumber(signature(keynum), 'stable.channel')).toBe('0123456789abcdef');
    expect(() => signatureKeyNumber(signature(Buffer.from('0123')), 'stable.channel')).toThrow(/stable.channel does not hold a signify signature/);
    expect(() => signatureKeyNumber('flashroot-channel 1\n', 'stable.channel')).toThrow(/does not hold a signify signature/);
  });
});
