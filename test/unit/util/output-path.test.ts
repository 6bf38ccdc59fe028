import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { outputFileProblem } from '../../../src/util/output-path.js';

let dir: string;
const o = { example: 'x.img' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'output-path-'));
  await writeFile(join(dir, 'file'), '');
  await mkdir(join(dir, 'sub'));
});

describe('outputFileProblem', () => {
  it('accepts a new or existing file in a writable directory', async () => {
    expect(await outputFileProblem(join(dir, 'new.img'), o)).toBeUndefined();
    expect(await outputFileProblem(join(dir, 'file'), o)).toBeUndefined();
  });
  it('refuses a directory, with or without the slash, and suggests a file in it', async () => {
    expect(await outputFileProblem(join(dir, 'sub'), o)).toBe(`'${join(dir, 'sub')}' is a directory; give a file name inside it, e.g. ${join(dir, 'sub')}/x.img`);
    expect(await outputFileProblem(`${dir}/nothing/`, o)).toMatch(/names a directory/);
    expect(await outputFileProblem('/', o)).toMatch(/names a directory/);
  });
  it('refuses what is not a regular file, and a parent that is a file', async () => {
    expect(await outputFileProblem('/dev/null', o)).toMatch(/not a regular file \(a character device\)/);
    expect(await outputFileProblem(join(dir, 'file/x.img'), o)).toMatch(/'.*file' is not a directory/);
  });
  it('creates missing parents only when the writer does', async () => {
    const deep = join(dir, 'a/b/x.img');
    expect(await outputFileProblem(deep, { ...o, createsParents: true })).toBeUndefined();
    expect(await outputFileProblem(deep, o)).toBe(`'${join(dir, 'a/b')}' does not exist`);
  });
});
