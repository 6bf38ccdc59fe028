/**
 * The saves area's shell side on real overlayfs mounts (root only) and a plain file standing in
 * for partition 2: flashroot-save writes generations, the init's functions (saves-lib.sh) find
 * and apply them, and the TypeScript reader (src/stick/saves-area.ts) agrees on every slot.
 */
import { mkdir, mkdtemp, open, readFile, rm, symlink, writeFile, readlink, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentGeneration, formatSuperblock, PAYLOAD_OFFSET, readSlots, savesLayout, savesShellDefaults, slotOffset, type SavesLayout } from '../../src/stick/saves-area.js';
import { run, start } from '../../src/util/run.js';

const BIN = fileURLToPath(new URL('../../overlays/system/bin/', import.meta.url));
const MIB = 2 ** 20;
const isRoot = process.getuid?.() === 0;

let dir: string;
let part: string;
let disk: string;
let layout: SavesLayout;
const mounted: string[] = [];

const constants = Object.entries(savesShellDefaults()).map(([k, v]) => `${k}='${v}'`).join('\n');

async function sh(script: string, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  return run('busybox', ['sh', '-c', script], { env: { ...env }, okExitCodes: [1, 2], timeoutMs: 30_000 });
}

/** A "boot": a fresh upper over the lower, mounted at merged; returns its paths. */
async function boot(n: number): Promise<{ upper: string; merged: string }> {
  const b = join(dir, `boot${n}`);
  for (const d of ['upper', 'work', 'merged']) await mkdir(join(b, d), { recursive: true });
  await run('mount', ['-t', 'overlay', '-o', `lowerdir=${join(dir, 'lower')},upperdir=${join(b, 'upper')},workdir=${join(b, 'work')}`, 'overlay', join(b, 'merged')]);
  mounted.push(join(b, 'merged'));
  return { upper: join(b, 'upper'), merged: join(b, 'merged') };
}

/** The init's part: find the current generation and apply it through the overlay; prints what it did and the boot fingerprint. */
async function applyAtBoot(b: { upper: string; merged: string }, persist: string): Promise<{ stdout: string; fingerprint: string; seq: string }> {
  const r = await sh(`${constants}
FR_PERSIST='${persist}'
. ${BIN}saves-lib.sh
fr_sv_open ${part} ${disk} || exit 1
fr_sv_current ${part} ${dir}/gen
[ -n "$FR_SV_CUR_SEQ" ] && fr_sv_apply ${dir}/gen "$FR_SV_CUR_H" ${b.merged} && echo "applied $FR_SV_CUR_SEQ"
mkdir -p ${dir}/fp && fr_sv_changes ${b.upper} ${dir}/lower ${b.merged} ${dir}/fp
echo "fingerprint $(fr_sv_fingerprint ${b.merged} ${dir}/fp) seq $FR_SV_CUR_SEQ"`);
  const m = /fingerprint (\w+) seq (\d*)/.exec(r.stdout);
  return { stdout: r.stdout, fingerprint: m?.[1] ?? '', seq: m?.[2] ?? '' };
}

async function saveConf(b: { upper: string; merged: string }, persist: string, boot: { fingerprint: string; seq: string }): Promise<string> {
  const conf = join(dir, 'saves.conf');
  await writeFile(conf, `${constants}
FR_PERSIST='${persist}'
FR_SAVES_DEV='${part}'
FR_SAVES_DISK='${disk}'
FR_UPPER='${b.upper}'
FR_LOWER_DIR='${join(dir, 'lower')}'
FR_SAVES_APPLIED='${boot.seq}'
FR_SAVES_BOOT_FINGERPRINT='${boot.fingerprint}'
`);
  await mkdir(join(dir, 'run'), { recursive: true });
  return conf;
}

const saveEnv = (conf: string, merged: string) => ({ FR_SAVES_CONF: conf, FR_BIN: BIN, FR_ROOT: merged, FR_RUN: join(dir, 'run') });

async function save(b: { upper: string; merged: string }, persist: string, boot: { fingerprint: string; seq: string }) {
  const conf = await saveConf(b, persist, boot);
  return run('busybox', ['sh', join(BIN, 'flashroot-save'), '--why', 'test'], { env: saveEnv(conf, b.merged), okExitCodes: [1, 2], timeoutMs: 30_000 });
}

async function slots() {
  const fh = await open(part, 'r');
  try {
    return await readSlots(async (offset, length) => {
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, offset);
      return buf;
    }, layout);
  } finally {
    await fh.close();
  }
}

beforeAll(async () => {
  if (!isRoot) return;
  dir = await mkdtemp(join(tmpdir(), 'saves-shell-'));
  const lower = join(dir, 'lower');
  for (const d of ['etc/app', 'etc/gone-dir', 'etc/opaque', 'var/lib/app', 'tmp']) await mkdir(join(lower, d), { recursive: true });
  await writeFile(join(lower, 'etc/app/settings.conf'), 'volume=5\n');
  await writeFile(join(lower, 'etc/app/to-delete'), 'x\n');
  await writeFile(join(lower, 'etc/app/to-rename'), 'renamed content\n');
  await writeFile(join(lower, 'etc/gone-dir/f'), 'f\n');
  await writeFile(join(lower, 'etc/opaque/old'), 'old\n');
  await writeFile(join(lower, 'etc/untouched'), 'u\n');
  disk = join(dir, 'disk');
  const sector0 = Buffer.alloc(512);
  sector0.writeUInt32LE(0x12345678, 440);
  await writeFile(disk, sector0);
  part = join(dir, 'part');
  layout = savesLayout(16 * MIB);
  const fh = await open(part, 'w');
  await fh.truncate(16 * MIB);
  await fh.write(formatSuperblock('78563412', layout), 0, 512, 0);
  await fh.close();
});

afterAll(async () => {
  for (const m of mounted.reverse()) await run('umount', [m]).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.runIf(isRoot)('saves through overlayfs (shell side)', () => {
  it('saves changes, deletions, renames and an opaque directory, and applies them on the next boot', async () => {
    const b1 = await boot(1);
    const first = await applyAtBoot(b1, '/etc');
    expect(first.seq).toBe('');
    const m = b1.merged;
    await writeFile(join(m, 'etc/app/settings.conf'), 'volume=9\n');
    await rm(join(m, 'etc/app/to-delete'));
    await run('mv', [join(m, 'etc/app/to-rename'), join(m, 'etc/app/renamed')]);
    await rm(join(m, 'etc/gone-dir'), { recursive: true });
    await rm(join(m, 'etc/opaque'), { recursive: true });
    await mkdir(join(m, 'etc/opaque'));
    await writeFile(join(m, 'etc/opaque/new'), 'new\n');
    await symlink('app/settings.conf', join(m, 'etc/link'));
    await writeFile(join(m, 'var/lib/app/not-persisted'), 'n\n');
    const r = await save(b1, '/etc', first);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/generation 1 saved to slot 0 \(test\): \d+ bytes/);
    const s = await slots();
    expect(currentGeneration(s)?.seq).toBe(1);

    const b2 = await boot(2);
    const second = await applyAtBoot(b2, '/etc');
    expect(second.stdout).toContain('applied 1');
    const n = b2.merged;
    expect(await readFile(join(n, 'etc/app/settings.conf'), 'utf8')).toBe('volume=9\n');
    await expect(stat(join(n, 'etc/app/to-delete'))).rejects.toThrow();
    await expect(stat(join(n, 'etc/app/to-rename'))).rejects.toThrow();
    expect(await readFile(join(n, 'etc/app/renamed'), 'utf8')).toBe('renamed content\n');
    await expect(stat(join(n, 'etc/gone-dir'))).rejects.toThrow();
    await expect(stat(join(n, 'etc/opaque/old'))).rejects.toThrow();
    expect(await readFile(join(n, 'etc/opaque/new'), 'utf8')).toBe('new\n');
    expect(await readlink(join(n, 'etc/link'))).toBe('app/settings.conf');
    expect(await readFile(join(n, 'etc/untouched'), 'utf8')).toBe('u\n');
    await expect(stat(join(n, 'var/lib/app/not-persisted'))).rejects.toThrow();

    // Unchanged since the boot applied it: nothing is written.
    const before = await readFile(part);
    const again = await save(b2, '/etc', second);
    expect(again.stdout).toContain('nothing changed since generation 1: nothing written');
    expect((await readFile(part)).equals(before)).toBe(true);
  });

  it('keeps the previous generation when a save is cut at each write, and says which was skipped', async () => {
    for (const [i, point] of (['pending', 'half', 'payload'] as const).entries()) {
      const b = await boot(10 + i);
      const applied = await applyAtBoot(b, '/etc');
      expect(applied.stdout).toContain('applied 1');
      await writeFile(join(b.merged, 'etc/app/settings.conf'), `volume=${point}\n`);
      // The save pauses after the write: killing it there is the power cut (the writes were synced).
      let paused = false;
      const proc = start('busybox', ['sh', join(BIN, 'flashroot-save')], {
        env: { ...saveEnv(await saveConf(b, '/etc', applied), b.merged), FLASHROOT_SAVE_PAUSE: point },
        onStdoutLine: (l) => {
          if (l.includes(`test pause after the ${point} write`)) paused = true;
        },
      });
      await waitFor(() => Promise.resolve(paused));
      proc.kill('SIGKILL');
      await proc.exited.catch(() => undefined);
      const s = await slots();
      expect(currentGeneration(s)?.seq).toBe(1);
      const next = await boot(20 + i);
      const after = await applyAtBoot(next, '/etc');
      expect(after.stdout).toMatch(/generation \d+ \(slot \d\) is incomplete: a save was interrupted; skipped/);
      expect(after.stdout).toContain('applied 1');
      expect(await readFile(join(next.merged, 'etc/app/settings.conf'), 'utf8')).toBe('volume=9\n');
    }
  });

  it('refuses a save larger than a slot before writing anything', async () => {
    const b = await boot(30);
    const applied = await applyAtBoot(b, '/etc');
    // 5 MiB of random data does not compress into a 4 MiB slot of a 16 MiB area.
    await run('dd', ['if=/dev/urandom', `of=${join(b.merged, 'etc/app/big')}`, 'bs=1M', 'count=5']);
    const before = await readFile(part);
    const r = await save(b, '/etc', applied);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/flashroot-save: the changes under \/etc are \d+ bytes compressed; a slot holds 4190208: nothing written/);
    expect(r.stdout).toContain('hint: persist fewer paths');
    expect((await readFile(part)).equals(before)).toBe(true);
  });

  it('skips a generation whose payload fails its checksum, saying so, and saves into a bad slot next', async () => {
    const s = await slots();
    const newest = s.filter((x) => x.state === 'valid').sort((a, z) => (z.seq ?? 0) - (a.seq ?? 0))[0]!;
    // Flip a byte of the current generation's payload: as a bad page would.
    const fh = await open(part, 'r+');
    const at = slotOffset(layout, newest.slot) + PAYLOAD_OFFSET + 3;
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    await fh.write(byte, 0, 1, at);
    await fh.close();
    const b = await boot(40);
    const r = await applyAtBoot(b, '/etc');
    expect(r.stdout).toContain(`generation ${newest.seq} (slot ${newest.slot}) fails its checksum (damaged or partly written); skipped`);
    await writeFile(join(b.merged, 'etc/app/settings.conf'), 'volume=7\n');
    const saved = await save(b, '/etc', r);
    // Into a slot found bad (this one, or the one a cut save left pending), never over a valid generation.
    const seq = Number(/generation (\d+) saved to slot (\d)/.exec(saved.stdout)?.[1]);
    const after = await slots();
    expect(currentGeneration(after)?.seq).toBe(seq);
    expect(after.filter((x) => x.state === 'valid').length).toBe(1);
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}
