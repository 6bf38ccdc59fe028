/**
 * Test fixtures for kernels: a hand-written /lib/modules/<version> tree, and a second real kernel
 * (Debian's real-time flavour) fetched with apt into .cache/kernels when it is not there yet.
 */
import { access, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../../src/util/run.js';

export const INSTALLED_VERSION = '6.1.0-56-amd64';

export interface ModulesFixture {
  /** Module paths (relative to the modules dir) -> the paths they depend on. */
  dep: Record<string, string[]>;
  builtin?: string[];
  alias?: string[];
  softdep?: string[];
  /** Contents of the module files; paths not listed get a small placeholder. */
  content?: Record<string, Buffer>;
  /** Written to <root>/boot/config-<version>, where checkKernelFeatures looks by default. */
  config?: string;
}

const fixtureRoots: string[] = [];

/** Builds <tmp>/lib/modules/<version>; returns that modules dir. */
export async function makeModulesDir(version: string, f: ModulesFixture): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'flashroot-kmod-'));
  fixtureRoots.push(root);
  const dir = join(root, 'lib', 'modules', version);
  await mkdir(dir, { recursive: true });
  const depText = Object.entries(f.dep).map(([p, deps]) => `${p}:${deps.map((d) => ` ${d}`).join('')}\n`).join('');
  await writeFile(join(dir, 'modules.dep'), depText);
  await writeFile(join(dir, 'modules.builtin'), (f.builtin ?? []).map((b) => `${b}\n`).join(''));
  await writeFile(join(dir, 'modules.alias'), (f.alias ?? []).map((a) => `${a}\n`).join(''));
  await writeFile(join(dir, 'modules.softdep'), (f.softdep ?? []).map((s) => `${s}\n`).join(''));
  await writeFile(join(dir, 'modules.order'), Object.keys(f.dep).map((p) => `${p}\n`).join(''));
  for (const p of Object.keys(f.dep)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), f.content?.[p] ?? Buffer.from(`placeholder for ${p}\n`));
  }
  if (f.config !== undefined) {
    await mkdir(join(root, 'boot'), { recursive: true });
    await writeFile(join(root, 'boot', `config-${version}`), f.config);
  }
  return dir;
}

export async function removeModulesDirs(): Promise<void> {
  await Promise.all(fixtureRoots.splice(0).map((r) => rm(r, { recursive: true, force: true })));
}

export interface FetchedKernel {
  root: string;
  version: string;
  image: string;
  modulesDir: string;
}

const KERNEL_CACHE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '.cache', 'kernels');

async function unpackedKernel(root: string): Promise<FetchedKernel | undefined> {
  const names = await readdir(join(root, 'boot')).catch(() => []);
  const image = names.find((n) => n.startsWith('vmlinuz-'));
  if (!image) return undefined;
  const version = image.slice('vmlinuz-'.length);
  return { root, version, image: join(root, 'boot', image), modulesDir: join(root, 'lib', 'modules', version) };
}

/** A cache entry counts only once depmod has run in it (the package's postinst would have). */
async function cachedKernel(root: string): Promise<FetchedKernel | undefined> {
  const k = await unpackedKernel(root);
  return k && (await access(join(k.modulesDir, 'modules.dep')).then(() => true, () => false)) ? k : undefined;
}

/**
 * Debian's real-time kernel, unpacked (never installed) into .cache/kernels. Says why it is
 * unavailable only when apt cannot reach its archive; any other failure fails the test.
 */
export async function fetchRtKernel(): Promise<FetchedKernel | { unavailable: string }> {
  let pkg: string | undefined;
  try {
    const deps = await run('apt-cache', ['depends', 'linux-image-rt-amd64']);
    pkg = /Depends: (linux-image-\S+-rt-amd64)/.exec(deps.stdout)?.[1];
  } catch (e) {
    return { unavailable: `apt-cache cannot tell the rt kernel package: ${(e as Error).message}` };
  }
  if (!pkg) return { unavailable: 'apt knows no linux-image-rt-amd64 (run apt-get update)' };
  const root = join(KERNEL_CACHE, pkg);
  const cached = await cachedKernel(root);
  if (cached) return cached;
  await rm(root, { recursive: true, force: true });

  await mkdir(KERNEL_CACHE, { recursive: true });
  // Unpack beside the cache entry and rename it in, so parallel test files never see half a kernel.
  const work = await mkdtemp(join(KERNEL_CACHE, `.${pkg}-`));
  try {
    try {
      await run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', pkg], { cwd: work, timeoutMs: 300_000 });
    } catch (e) {
      return { unavailable: `apt-get download ${pkg} failed: ${(e as Error).message}` };
    }
    const deb = (await readdir(work)).find((n) => n.endsWith('.deb')) ?? '';
    await run('dpkg-deb', ['-x', join(work, deb), join(work, 'root')]);
    const unpacked = await unpackedKernel(join(work, 'root'));
    if (!unpacked) throw new Error(`${pkg} holds no boot/vmlinuz-*`);
    await run('depmod', ['-b', unpacked.root, unpacked.version]);
    await rename(unpacked.root, root).catch(async (e: NodeJS.ErrnoException) => {
      if (!(await cachedKernel(root))) throw e;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const fetched = await cachedKernel(root);
  if (!fetched) throw new Error(`${pkg} unpacked into ${root} but has no modules.dep`);
  return fetched;
}
