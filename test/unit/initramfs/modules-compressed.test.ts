import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModules, type ResolvedModules } from '../../../src/initramfs/modules.js';
import { stageModules } from '../../../src/initramfs/modules-stage.js';
import { run } from '../../../src/util/run.js';
import { installedKernel } from '../../helpers/kernels.js';
import { makeModulesDir, removeModulesDirs } from '../kernel/fixtures.js';

const INSTALLED = await installedKernel();
const REAL = join(INSTALLED.modulesDir, 'kernel');
const VERSION = '6.1.0-fixture-compressed';

/** Compresses with the real tools, as a kernel package built with CONFIG_MODULE_COMPRESS_* would. */
async function compress(kind: 'xz' | 'zstd', data: Buffer): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'flashroot-kz-'));
  try {
    const plain = join(dir, 'm.ko');
    await writeFile(plain, data);
    if (kind === 'xz') await run('xz', ['--check=crc32', '-q', plain]);
    else await run('zstd', ['-q', '--rm', plain]);
    return await readFile(`${plain}.${kind === 'xz' ? 'xz' : 'zst'}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('compressed modules (.ko.xz, .ko.zst, .ko.gz)', () => {
  const original: Record<string, Buffer> = {};
  let r: ResolvedModules;
  let stage: string;

  beforeAll(async () => {
    for (const m of ['fs/fat/fat', 'fs/fat/vfat', 'fs/nls/nls_cp437', 'fs/squashfs/squashfs']) original[m] = await readFile(`${REAL}/${m}.ko`);
    const dir = await makeModulesDir(VERSION, {
      dep: {
        'kernel/fs/fat/fat.ko.xz': [],
        'kernel/fs/fat/vfat.ko.zst': ['kernel/fs/fat/fat.ko.xz'],
        'kernel/fs/nls/nls_cp437.ko.gz': [],
        'kernel/fs/squashfs/squashfs.ko': [],
      },
      alias: ['alias fs-vfat vfat', 'alias fs-squashfs squashfs'],
      content: {
        'kernel/fs/fat/fat.ko.xz': await compress('xz', original['fs/fat/fat'] ?? Buffer.alloc(0)),
        'kernel/fs/fat/vfat.ko.zst': await compress('zstd', original['fs/fat/vfat'] ?? Buffer.alloc(0)),
        'kernel/fs/nls/nls_cp437.ko.gz': gzipSync(original['fs/nls/nls_cp437'] ?? Buffer.alloc(0)),
        'kernel/fs/squashfs/squashfs.ko': original['fs/squashfs/squashfs'] ?? Buffer.alloc(0),
      },
    });
    r = await resolveModules(dir, { names: ['vfat', 'nls_cp437', 'squashfs'] });
    stage = await mkdtemp(join(tmpdir(), 'flashroot-kstage-'));
    await stageModules(r, stage);
  });
  afterAll(async () => {
    await rm(stage, { recursive: true, force: true });
    await removeModulesDirs();
  });

  it('marks each file with how to decompress it and a plain .ko destination', () => {
    const byDest = Object.fromEntries(r.files.map((f) => [f.dest.replace(`lib/modules/${VERSION}/kernel/`, ''), f.decompress]));
    expect(byDest).toEqual({
      'fs/fat/fat.ko': 'xz',
      'fs/fat/vfat.ko': 'zstd',
      'fs/nls/nls_cp437.ko': 'gzip',
      'fs/squashfs/squashfs.ko': undefined,
    });
  });

  it('rewrites modules.dep and modules.order to the decompressed names', () => {
    expect(r.moduleDb['modules.dep']).toBe(
      'kernel/fs/fat/fat.ko:\nkernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\nkernel/fs/nls/nls_cp437.ko:\nkernel/fs/squashfs/squashfs.ko:\n',
    );
    expect(r.moduleDb['modules.order']).not.toMatch(/\.ko\.(xz|zst|gz)/);
  });

  it('stages byte-identical plain modules that modinfo reads', async () => {
    for (const [m, bytes] of Object.entries(original)) {
      const staged = await readFile(join(stage, 'lib', 'modules', VERSION, 'kernel', `${m}.ko`));
      expect(staged.subarray(0, 4).toString('latin1'), m).toBe('\x7fELF');
      expect(staged.equals(bytes), m).toBe(true);
    }
    const vermagic = await run('modinfo', ['-F', 'vermagic', join(stage, 'lib', 'modules', VERSION, 'kernel', 'fs/fat/vfat.ko')]);
    expect(vermagic.stdout).toMatch(new RegExp(`^${INSTALLED.version.replace(/[.+]/g, '\\$&')} SMP`));
  });

  it('writes the filtered database next to the modules, without compressed leftovers', async () => {
    const dbDir = join(stage, 'lib', 'modules', VERSION);
    expect(await readFile(join(dbDir, 'modules.dep'), 'utf8')).toBe(r.moduleDb['modules.dep']);
    expect(await readFile(join(dbDir, 'modules.alias'), 'utf8')).toBe('alias fs-vfat vfat\nalias fs-squashfs squashfs\n');
    const found = await run('find', [stage, '-name', '*.ko.*']);
    expect(found.stdout).toBe('');
  });
});
