/**
 * The catalogue of bad input: what a user can get wrong, run through the real CLI, each with the
 * first error line it must print, its exit code, no stack trace, and nothing left behind. Every new
 * option adds its rows here.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '../../bin/flashroot.js');
let dir: string;
/** Small tmpfs mounts: a full disk (20 MiB: not even the kernels fit), one with room for the kernel but not the rest, a read-only one. */
const MOUNTS = { full: 'full', tight: 'tight', ro: 'ro' } as const;
const mounted: string[] = [];

async function mountTmpfs(name: string, options: string): Promise<void> {
  const at = join(dir, name);
  await mkdir(at);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at]);
  mounted.push(at);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'catalogue-'));
  await mountTmpfs(MOUNTS.full, 'size=20m');
  await mountTmpfs(MOUNTS.tight, 'size=11m');
  await mountTmpfs(MOUNTS.ro, 'size=1m,ro');
  await mkdir(join(dir, 'dangling-init/sbin'), { recursive: true });
  await symlink('/nonexistent/init', join(dir, 'dangling-init/sbin/init'));
  await mkdir(join(dir, 'no-init'), { recursive: true });
  await writeFile(join(dir, 'not-a-kernel'), 'hello\n');
  await writeFile(join(dir, 'not-an-image'), 'just text\n');
  await mkdir(join(dir, 'www'));
  // A small stick image to try: BIOS only, which is quicker to build.
  const built = await execa(process.execPath, [CLI, 'build', '--demo', '--boot', 'bios', '--out', join(dir, 'demo.img'), '--json'], { reject: false });
  expect(built.exitCode, built.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  for (const at of mounted) execFileSync('umount', [at]);
  await rm(dir, { recursive: true, force: true });
});

interface Row {
  what: string;
  args: string[];
  /** The first line that starts with "flashroot". */
  first: RegExp;
  exit: number;
  /** More lines that must be there (every problem at once), and a count of "- " problem lines, if fixed. */
  also?: RegExp[];
  problems?: number;
  /** The run may take a build's time: it refuses only once the contents are known. */
  slow?: boolean;
}

const ROWS: Row[] = [
  // build: refused at option checking
  { what: 'build --out / (a directory)', args: ['build', '--demo', '--out', '/'], first: /^flashroot: error: invalid options:$/, also: [/^- --out: '\/' names a directory/m], exit: 2, problems: 1 },
  { what: 'build --out an existing directory', args: ['build', '--demo', '--out', 'DIR/www'], first: /invalid options/, also: [/--out: '.*\/www' is a directory; give a file name inside it/], exit: 2 },
  { what: 'build --out on a read-only filesystem', args: ['build', '--demo', '--out', `DIR/${MOUNTS.ro}/x.img`], first: /invalid options/, also: [/--out: '.*\/ro' is on a read-only filesystem/], exit: 2 },
  { what: 'build --out inside a file', args: ['build', '--demo', '--out', 'DIR/not-an-image/x.img'], first: /invalid options/, also: [/--out: '.*not-an-image' is not a directory/], exit: 2 },
  { what: 'build --out a device', args: ['build', '--demo', '--out', '/dev/null'], first: /invalid options/, also: [/--out: '\/dev\/null' exists and is not a regular file \(a character device\)/], exit: 2 },
  { what: 'build --size smaller than any image', args: ['build', '--demo', '--size', '10M'], first: /invalid options/, also: [/^- --size: must be at least 65MiB/m], exit: 2, problems: 1 },
  { what: 'build --upper-size above 100%', args: ['build', '--demo', '--upper-size', '300%'], first: /invalid options/, also: [/^- --upper-size: at most 100% of RAM/m], exit: 2, problems: 1 },
  { what: 'build --upper-size 0 (tmpfs: no limit)', args: ['build', '--demo', '--upper-size', '0'], first: /invalid options/, also: [/--upper-size: must be more than 0/], exit: 2 },
  {
    what: 'build with several bad options: all reported',
    args: ['build', '--comp', 'bogus', '--upper-size', '300%', '--demo', '--root', '/', '--out', '/'],
    first: /invalid options/,
    also: [/^- --comp: /m, /^- --upper-size: /m, /^- --demo and --root: choose one$/m, /^- --out: /m],
    exit: 2,
    problems: 4,
  },
  { what: 'build a label FAT cannot hold', args: ['build', '--demo', '--label', 'my stick'], first: /invalid options/, also: [/--label: must be 1-11 characters/], exit: 2 },
  { what: 'build an unknown compressor', args: ['build', '--demo', '--comp', 'brotli'], first: /invalid options/, also: [/--comp: /], exit: 2 },
  { what: 'build an unknown --lower kind', args: ['build', '--demo', '--lower', 'ftp://x/'], first: /invalid options/, also: [/--lower: .*unknown lower kind/], exit: 2 },
  // build: refused once the inputs are read
  { what: 'build a root that does not exist', args: ['build', '--root', '/nonexistent/root'], first: /^flashroot: error: root '\/nonexistent\/root' does not exist/, exit: 3 },
  { what: 'build a root without an init', args: ['build', '--root', 'DIR/no-init'], first: /has no executable \/sbin\/init/, exit: 3 },
  { what: 'build a root whose /sbin/init dangles', args: ['build', '--root', 'DIR/dangling-init'], first: /has no executable \/sbin\/init/, exit: 3 },
  { what: 'build a --kernel that is not a kernel', args: ['build', '--demo', '--kernel', 'DIR/not-a-kernel'], first: /not-a-kernel/, exit: 3 },
  { what: 'build onto a full filesystem', args: ['build', '--demo', '--out', `DIR/${MOUNTS.full}/x.img`], first: /^flashroot: error: no space left on .*\/full: the image needs at least \d+\.\d MiB, 20\.0 MiB free$/, exit: 3 },
  {
    what: 'build onto a filesystem with room for the kernel but not the whole image',
    args: ['build', '--demo', '--boot', 'bios', '--out', `DIR/${MOUNTS.tight}/x.img`],
    first: /^flashroot: error: no space left on .*\/tight: the image needs \d+\.\d MiB, 11\.0 MiB free$/,
    exit: 3,
    slow: true,
  },
  // try, inspect, publish, write, uki, endurance
  { what: 'try a file that is not an image', args: ['try', '/etc/passwd', '--timeout', '5'], first: /^flashroot: error: '\/etc\/passwd' has no MBR partition table$/, also: [/^hint: is it an image built by flashroot build\?$/m], exit: 3 },
  { what: 'try an image that does not exist', args: ['try', 'DIR/nothing.img'], first: /^flashroot: error: image '.*nothing.img' does not exist$/, exit: 3 },
  { what: 'try with bad --timeout and --memory', args: ['try', 'DIR/demo.img', '--timeout', '0', '--memory', '3'], first: /invalid options/, also: [/--timeout 0/, /--memory 3/], exit: 2, problems: 2 },
  { what: 'try that times out without --expect', args: ['try', 'DIR/demo.img', '--timeout', '5'], first: /^flashroot try: stopped the virtual machine after 5 s \(--timeout\); the guest did not power off by itself$/, exit: 1, slow: true },
  { what: 'inspect a file that is not an image', args: ['inspect', '/etc/passwd'], first: /^flashroot: error: '\/etc\/passwd' has no MBR partition table$/, exit: 3 },
  { what: 'publish a file that is not a squashfs', args: ['publish', '/etc/passwd', '--to', 'DIR/www'], first: /^flashroot: error: \/etc\/passwd is not a squashfs image$/, exit: 3 },
  { what: 'write to a drive that does not exist', args: ['write', 'DIR/demo.img', '--drive', '/dev/sdzz'], first: /^flashroot: error: No such device: \/dev\/sdzz$/, exit: 3 },
  { what: 'uki --out a directory', args: ['uki', '--kernel', 'k', '--initrd', 'i', '--cmdline', 'c', '--out', 'DIR/www'], first: /invalid options/, also: [/--out: '.*www' is a directory/], exit: 2 },
  {
    what: 'endurance --capacity banana: one line, the flag once',
    args: ['endurance', '--capacity', 'banana'],
    first: /^flashroot: error: Invalid endurance settings:$/,
    also: [/^- --capacity: cannot read 'banana' as a size\.$/m],
    exit: 2,
    problems: 1,
  },
  { what: 'endurance --svg in a directory that does not exist', args: ['endurance', '--capacity', '32G', '--svg', 'DIR/nowhere/x.svg'], first: /Invalid endurance settings/, also: [/^- --svg: '.*nowhere' does not exist$/m], exit: 2, problems: 1 },
];

async function listing(): Promise<string[]> {
  const names: string[] = [];
  for (const d of [dir, ...Object.values(MOUNTS).map((m) => join(dir, m))]) names.push(...(await readdir(d)).map((n) => join(d, n)));
  return names.sort();
}

describe('the catalogue of bad input: one clear line, a hint, the documented exit code, nothing left behind', () => {
  it.each(ROWS.map((r) => [r.what, r] as const))('%s', async (_what, row) => {
    const before = await listing();
    const args = row.args.map((a) => a.replace(/^DIR/, dir));
    const r = await execa(process.execPath, [CLI, ...args], { reject: false, timeout: row.slow ? 120_000 : 60_000 });
    const lines = r.stderr.split('\n');
    expect(lines.find((l) => l.startsWith('flashroot')), r.stderr).toMatch(row.first);
    for (const re of row.also ?? []) expect(r.stderr).toMatch(re);
    if (row.problems !== undefined) expect(lines.filter((l) => l.startsWith('- ')), r.stderr).toHaveLength(row.problems);
    if (r.exitCode !== 0 && row.exit !== 1) expect(r.stderr).toMatch(/^hint: /m);
    expect(r.stderr).not.toMatch(/internal error|^\s+at /m);
    expect(r.exitCode, r.stderr).toBe(row.exit);
    expect(await listing()).toEqual(before);
    expect(existsSync('/.partial')).toBe(false);
  }, 150_000);
});
