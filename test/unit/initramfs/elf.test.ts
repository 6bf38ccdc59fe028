import { chmod, cp, lstat, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { elfClosure } from '../../../src/initramfs/elf.js';
import { run } from '../../../src/util/run.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'flashroot-elf-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** What the system's dynamic loader itself resolves, as real paths: the reference for our reader. */
async function lddRealFiles(binary: string): Promise<string[]> {
  const out = (await run('ldd', [binary])).stdout;
  const paths = [...out.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1] ?? '');
  return Promise.all([binary, ...paths].map((p) => realpath(p)));
}

/** Libraries of a binary as ldd names them (soname) with the real file behind each. */
async function lddLibraries(binary: string): Promise<{ soname: string; real: string }[]> {
  const out = (await run('ldd', [binary])).stdout;
  const found = [...out.matchAll(/^\s*(\S+) => (\/\S+) \(0x/gm)].map((m) => ({ soname: m[1] ?? '', path: m[2] ?? '' }));
  return Promise.all(found.map(async (l) => ({ soname: l.soname, real: await realpath(l.path) })));
}

/** An empty root with glibc's loader and libc, where absolute symlinks only resolve inside it. */
async function rootWithLibc(name: string): Promise<string> {
  const root = await mkdtemp(join(scratch, name));
  const dir = join(root, 'usr/lib/x86_64-linux-gnu');
  await mkdir(dir, { recursive: true });
  for (const l of ['ld-linux-x86-64.so.2', 'libc.so.6']) await cp(await realpath(`/usr/lib/x86_64-linux-gnu/${l}`), join(dir, l));
  await mkdir(join(root, 'lib64'));
  await symlink('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', join(root, 'lib64/ld-linux-x86-64.so.2'));
  return root;
}

/** Compiles C source to a file inside root (parents created); extra gcc arguments follow the source. */
async function compile(root: string, out: string, source: string, extra: string[]): Promise<void> {
  const src = join(scratch, `${out.replaceAll('/', '_')}.c`);
  await writeFile(src, `${source}\n`);
  await mkdir(dirname(join(root, out)), { recursive: true });
  await run('gcc', ['-o', join(root, out), src, ...extra]);
}

async function realFilesOf(files: string[]): Promise<string[]> {
  const kinds = await Promise.all(files.map(async (f) => ((await lstat(f)).isSymbolicLink() ? undefined : f)));
  return kinds.filter((f): f is string => f !== undefined).sort();
}

/** Copies the closure into an empty root, symlinks as symlinks: what the initramfs builder will do. */
async function copyIntoRoot(files: string[], root: string): Promise<void> {
  for (const f of files) {
    await mkdir(join(root, dirname(f)), { recursive: true });
    await cp(f, join(root, f), { verbatimSymlinks: true, recursive: false });
  }
}

describe('elfClosure on the host', () => {
  it.each(['/usr/bin/ssh', '/bin/ls'])('finds the same libraries and interpreter as ldd for %s', async (binary) => {
    const { files } = await elfClosure([binary]);
    expect(await realFilesOf(files)).toEqual([...new Set(await lddRealFiles(binary))].sort());
  });

  it('keeps the symlinks on the way (/lib64, the interpreter link, libz.so.1)', async () => {
    const { files } = await elfClosure(['/usr/bin/ssh']);
    expect(files).toEqual(expect.arrayContaining(['/lib64', '/usr/lib64/ld-linux-x86-64.so.2', '/usr/lib/x86_64-linux-gnu/libz.so.1']));
    expect(files).toContain(await realpath('/usr/lib/x86_64-linux-gnu/libz.so.1'));
  });

  it('returns a static binary alone', async () => {
    expect((await elfClosure(['/usr/bin/busybox'])).files).toEqual(['/usr/bin/busybox']);
  });

  it.skipIf(process.getuid?.() !== 0)('is enough to run the binaries in an otherwise empty root (chroot)', async () => {
    const { files } = await elfClosure(['/usr/bin/ssh', '/bin/ls']);
    const root = await mkdtemp(join(scratch, 'chroot-'));
    await copyIntoRoot(files, root);
    // ssh insists on opening /dev/null and on knowing who it runs as; neither is a library.
    await mkdir(join(root, 'dev'));
    await writeFile(join(root, 'dev/null'), '');
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    expect((await run('chroot', [root, '/usr/bin/ssh', '-V'])).stderr).toMatch(/^OpenSSH_/);
    expect((await run('chroot', [root, '/bin/ls', '/'])).stdout.split('\n')).toEqual(expect.arrayContaining(['bin', 'lib64', 'usr']));
  });

  it('refuses a script with an InputError', async () => {
    const script = join(scratch, 'script.sh');
    await writeFile(script, '#!/bin/sh\necho hi\n');
    await chmod(script, 0o755);
    const err = await elfClosure([script]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/not a 64-bit little-endian ELF/);
  });
});

describe('elfClosure inside another root', () => {
  it('searches ld.so.conf.d and resolves absolute symlinks inside that root, never the host', async () => {
    const root = await mkdtemp(join(scratch, 'root-'));
    const libs = await lddLibraries('/bin/ls');
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    await cp('/usr/bin/ls', join(root, 'usr/bin/ls'));
    await mkdir(join(root, 'opt/mylibs'), { recursive: true });
    for (const l of libs) await cp(l.real, join(root, 'opt/mylibs', l.soname));
    await cp(await realpath('/lib64/ld-linux-x86-64.so.2'), join(root, 'opt/mylibs/ld.so'));
    await mkdir(join(root, 'etc/ld.so.conf.d'), { recursive: true });
    await writeFile(join(root, 'etc/ld.so.conf.d/my.conf'), '# ours\n/opt/mylibs\n');
    // The interpreter path baked into ls, as an absolute link that only makes sense inside root.
    await mkdir(join(root, 'lib64'));
    await symlink('/opt/mylibs/ld.so', join(root, 'lib64/ld-linux-x86-64.so.2'));

    const { files } = await elfClosure(['/usr/bin/ls'], { root });
    expect(files).toEqual(['/lib64/ld-linux-x86-64.so.2', '/opt/mylibs/ld.so', '/usr/bin/ls', ...libs.map((l) => `/opt/mylibs/${l.soname}`)].sort());
  });

  it('follows a $ORIGIN runpath, and the result runs', async () => {
    const root = await rootWithLibc('origin-');
    await compile(root, 'app/lib/libgreet.so', 'int greet(void) { return 42; }', ['-shared', '-fPIC']);
    await compile(root, 'app/bin/main', 'int greet(void);\nint main(void) { return greet(); }', [`-L${join(root, 'app/lib')}`, '-lgreet', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib']);
    const { files } = await elfClosure(['/app/bin/main'], { root });
    expect(files).toEqual([
      '/app/bin/main',
      '/app/lib/libgreet.so',
      '/lib64/ld-linux-x86-64.so.2',
      '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      '/usr/lib/x86_64-linux-gnu/libc.so.6',
    ]);
    if (process.getuid?.() !== 0) return;
    // ld.so finds $ORIGIN through /proc/self/exe, absent in a bare chroot; LD_ORIGIN_PATH stands in for it.
    const ran = await run('chroot', [root, '/app/bin/main'], { okExitCodes: [42], env: { LD_ORIGIN_PATH: '/app/bin' } });
    expect(ran.exitCode).toBe(42);
  });

  it('passes DT_RPATH on to the libraries an executable loads, but not DT_RUNPATH (as ld.so does)', async () => {
    const root = await rootWithLibc('chain-');
    const lib = join(root, 'app/lib');
    await compile(root, 'app/lib/libinner.so', 'int inner(void) { return 7; }', ['-shared', '-fPIC']);
    await compile(root, 'app/lib/libouter.so', 'int inner(void);\nint outer(void) { return inner(); }', ['-shared', '-fPIC', `-L${lib}`, '-linner']);
    for (const [exe, tags] of [['rpath', '--disable-new-dtags'], ['runpath', '--enable-new-dtags']] as const) {
      await compile(root, `app/bin/${exe}`, 'int outer(void);\nint main(void) { return outer(); }', [`-L${lib}`, '-louter', `-Wl,${tags},-rpath-link,${lib},-rpath,/app/lib`]);
    }
    expect((await elfClosure(['/app/bin/rpath'], { root })).files).toEqual(expect.arrayContaining(['/app/lib/libouter.so', '/app/lib/libinner.so']));
    await expect(elfClosure(['/app/bin/runpath'], { root })).rejects.toThrow(/libinner\.so needed by \/app\/lib\/libouter\.so/);
    if (process.getuid?.() !== 0) return;
    expect((await run('chroot', [root, '/app/bin/rpath'], { okExitCodes: [7] })).exitCode).toBe(7);
    expect((await run('chroot', [root, '/app/bin/runpath'], { okExitCodes: [127] })).stderr).toMatch(/libinner\.so/);
  });

  it('names the missing library and the binary that needs it', async () => {
    const root = await rootWithLibc('bare-');
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    await cp('/usr/bin/ls', join(root, 'usr/bin/ls'));
    const err = await elfClosure(['/usr/bin/ls'], { root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/Library libselinux\.so\.1 needed by \/usr\/bin\/ls was not found/);
  });
});
