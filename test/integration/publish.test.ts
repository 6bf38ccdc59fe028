import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishToDir } from '../../src/network/publish.js';
import { sha256File } from '../../src/util/hash.js';
import { run } from '../../src/util/run.js';

let work: string;
let image: string;
let www: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flashroot-publish-'));
  await mkdir(join(work, 'root/etc'), { recursive: true });
  await writeFile(join(work, 'root/etc/hostname'), 'published\n');
  image = join(work, 'root.sqfs');
  await run('mksquashfs', [join(work, 'root'), image, '-noappend', '-quiet']);
  www = join(work, 'www');
  await mkdir(www);
});

afterAll(() => rm(work, { recursive: true, force: true }));

describe('flashroot publish --to DIR', () => {
  it('copies the image under its sha256 name and prints the --lower value', async () => {
    const sha = await sha256File(image);
    const r = await publishToDir(image, www, 'http://boot.example/img/');
    expect(r).toMatchObject({ name: `root-${sha}.sqfs`, existed: false, lower: `http://boot.example/img/root-${sha}.sqfs` });
    expect(await sha256File(r.path)).toBe(sha);
    expect(await readdir(www)).toEqual([`root-${sha}.sqfs`]);
  });

  it('is idempotent: the same image again is already there', async () => {
    const r = await publishToDir(image, www);
    expect(r.existed).toBe(true);
    expect(r.lower).toBeUndefined();
  });

  it('never overwrites an object in use, even a damaged one', async () => {
    const sha = await sha256File(image);
    const published = join(www, `root-${sha}.sqfs`);
    const damaged = Buffer.from(await readFile(published));
    damaged[100] = (damaged[100] ?? 0) ^ 0xff;
    await writeFile(published, damaged);
    await expect(publishToDir(image, www)).rejects.toMatchObject({ code: 'ESAFETY' });
    expect(Buffer.compare(await readFile(published), damaged)).toBe(0);
    await rm(published);
  });

  it('refuses what is not a squashfs image, a missing web root and a URL without a trailing slash', async () => {
    const notImage = join(work, 'stick.img');
    await writeFile(notImage, Buffer.alloc(8192));
    await expect(publishToDir(notImage, www)).rejects.toThrow(/not a squashfs image/);
    await expect(publishToDir(image, join(work, 'nope'))).rejects.toThrow(/not a directory/);
    await expect(publishToDir(image, www, 'http://boot.example/img')).rejects.toThrow(/must end with \//);
    expect((await readdir(www)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('works from the command line', async () => {
    const r = await run('node', ['bin/flashroot.js', 'publish', image, '--to', www, '--url', 'http://10.0.2.2:8080/']);
    expect(r.stdout).toMatch(/^published: .*root-[0-9a-f]{64}\.sqfs/m);
    expect(r.stdout).toMatch(/^boot it with: --lower http:\/\/10\.0\.2\.2:8080\/root-[0-9a-f]{64}\.sqfs$/m);
  });
});
