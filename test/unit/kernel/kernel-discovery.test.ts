/**
 * The guard that keeps the suite independent of the archive: the tests' kernel discovery follows
 * whatever is installed, and no test names the kernel this machine happens to have.
 */
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { debianMirror, installedKernel } from '../../helpers/kernels.js';
import { fakeBzImage } from './fixtures.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

async function fakeInstall(root: string, version: string, modules = true): Promise<void> {
  await mkdir(join(root, 'boot'), { recursive: true });
  await writeFile(join(root, 'boot', `vmlinuz-${version}`), fakeBzImage(version));
  if (!modules) return;
  await mkdir(join(root, 'lib', 'modules', version), { recursive: true });
  await writeFile(join(root, 'lib', 'modules', version, 'modules.dep'), '');
}

describe('installedKernel', () => {
  it('finds a kernel of a version no fixture mentions, newest first, with its modules', async () => {
    const root = await mkdtemp(join(tmpdir(), 'flashroot-kfind-'));
    const version = `${randomInt(7, 99)}.${randomInt(0, 99)}.0-${randomInt(100, 999)}-guard`;
    await fakeInstall(root, '5.10.0-1-amd64');
    await fakeInstall(root, version);
    expect(await installedKernel(root)).toEqual({
      root,
      version,
      image: join(root, 'boot', `vmlinuz-${version}`),
      modulesDir: join(root, 'lib', 'modules', version),
    });
  });

  it('says what to do when the newest kernel has no modules', async () => {
    const root = await mkdtemp(join(tmpdir(), 'flashroot-kfind-'));
    await fakeInstall(root, '6.99.0-1-amd64', false);
    await expect(installedKernel(root)).rejects.toThrow(/no .*modules\.dep: run scripts\/setup\.sh/);
  });
});

describe('no test names the kernel installed here', () => {
  it('only fixtures may name a kernel release, and none names one of this machine', async () => {
    const installed = [
      ...(await readdir('/lib/modules').catch(() => [])),
      ...(await readdir('/boot').catch(() => [])).filter((n) => n.startsWith('vmlinuz-')).map((n) => n.slice('vmlinuz-'.length)),
    ];
    expect(installed.length).toBeGreaterThan(0);
    const offenders: string[] = [];
    for (const top of ['test', 'bench', 'src']) {
      for (const entry of await readdir(join(REPO, top), { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !/\.(ts|sh|json)$/.test(entry.name)) continue;
        const path = join(entry.parentPath, entry.name);
        const text = await readFile(path, 'utf8');
        for (const v of installed) if (text.includes(v)) offenders.push(`${relative(REPO, path)} names ${v}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('debianMirror', () => {
  const deb822 = [
    'Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main',
    'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main',
    'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main',
  ].join('\n\n');

  it('takes the URI that serves the release, from deb822 stanzas', () => {
    expect(debianMirror(deb822, 'bookworm')).toBe('http://mirror.example/debian');
    expect(debianMirror(deb822, 'trixie')).toBeUndefined();
  });

  it('and from one-line sources, options included', () => {
    const text = '# comment\ndeb https://packages.example/apt cloud-sdk-bookworm main\ndeb [arch=amd64] http://ftp.example/debian/ bookworm main contrib\n';
    expect(debianMirror(text, 'bookworm')).toBe('http://ftp.example/debian/');
  });
});
