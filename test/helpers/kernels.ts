/**
 * The real kernels the tests build sticks for, found or fetched at run time: the Debian archive
 * moves (linux-image-amd64 brings a new ABI every few weeks and the old one disappears), so no
 * test may name a version.
 * - installedKernel(): the kernel a build takes by default, the newest in /boot, with its modules.
 * - fetchKernel(): a kernel package unpacked (never installed) into .cache/kernels, named by its
 *   metapackage (linux-image-rt-amd64), optionally from a suite the host's apt sources do not list
 *   (bookworm-backports), reached through an apt configuration of the tests' own.
 */
import { access, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNewestKernel, kernelVersionFromImage } from '../../src/kernel/version.js';
import { run } from '../../src/util/run.js';
import { aptDownload, unpackDebianPackage } from '../../src/util/debian-package.js';

export interface TestKernel {
  /** Where the kernel's boot/ and lib/modules/ live: '/' for the installed one. */
  root: string;
  version: string;
  image: string;
  modulesDir: string;
}

const hasModulesDep = (modulesDir: string) => access(join(modulesDir, 'modules.dep')).then(() => true, () => false);

/**
 * The newest kernel in ROOT/boot (the build's default) and its ROOT/lib/modules; the version is
 * read from the image itself, as the build does.
 */
export async function installedKernel(root = '/'): Promise<TestKernel> {
  const { image } = await findNewestKernel(join(root, 'boot'));
  const version = await kernelVersionFromImage(image);
  const modulesDir = join(root, 'lib', 'modules', version);
  if (!(await hasModulesDep(modulesDir))) {
    throw new Error(`the newest kernel in ${join(root, 'boot')} (${version}) has no ${modulesDir}/modules.dep: run scripts/setup.sh (it installs linux-image-amd64)`);
  }
  return { root, version, image, modulesDir };
}

const CACHE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache');
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
/** Lists of a suite of our own are fetched again after this long, or when a download fails. */
const LISTS_MAX_AGE_MS = 24 * 3600_000;
const APT_TIMEOUT_MS = 300_000;

export interface KernelPackage {
  /** The metapackage whose Depends names today's versioned image package. */
  metapackage: string;
  /** A Debian suite beside the host's (e.g. bookworm-backports); omitted: the host's own sources. */
  suite?: string;
}

/**
 * The mirror the host's apt sources (deb822 or one-line format) serve the release CODENAME from,
 * so the tests fetch from the mirror the machine is set up to reach.
 */
export function debianMirror(sources: string, codename: string): string | undefined {
  for (const stanza of sources.split(/\n\s*\n/)) {
    const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
    const suites = /^Suites:\s*(.*)$/m.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (uri && suites.includes(codename)) return uri;
  }
  for (const line of sources.split('\n')) {
    const [, uri, suite] = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim()) ?? [];
    if (uri && suite === codename) return uri;
  }
  return undefined;
}

async function hostMirror(codename: string): Promise<string> {
  const files = [
    '/etc/apt/sources.list',
    ...(await readdir('/etc/apt/sources.list.d').catch(() => [])).map((f) => join('/etc/apt/sources.list.d', f)),
  ];
  for (const f of files) {
    const mirror = debianMirror(await readFile(f, 'utf8').catch(() => ''), codename);
    if (mirror) return mirror;
  }
  return 'http://deb.debian.org/debian';
}

/**
 * apt options that read and write only under .cache/apt/SUITE: its own sources list, package
 * lists and caches. The host's sources and installed packages are never changed.
 */
async function ownAptConfig(suite: string): Promise<{ options: string[]; refresh: (force: boolean) => Promise<void> }> {
  const dir = join(CACHE, 'apt', suite);
  for (const d of ['lists/partial', 'cache/archives/partial', 'sources.list.d']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'sources.list'), `deb [signed-by=${KEYRING}] ${await hostMirror(suite.split('-')[0] ?? suite)} ${suite} main\n`);
  const options = [
    '-o', `Dir::Etc::SourceList=${join(dir, 'sources.list')}`,
    '-o', `Dir::Etc::SourceParts=${join(dir, 'sources.list.d')}`,
    '-o', `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o', `Dir::Cache=${join(dir, 'cache')}`,
  ];
  const stamp = join(dir, 'lists', '.updated');
  const refresh = async (force: boolean) => {
    const age = await stat(stamp).then((s) => Date.now() - s.mtimeMs, () => Infinity);
    if (!force && age < LISTS_MAX_AGE_MS) return;
    await run('apt-get', [...options, '-o', 'APT::Sandbox::User=root', 'update', '-qq'], { timeoutMs: APT_TIMEOUT_MS });
    await writeFile(stamp, '');
  };
  return { options, refresh };
}

async function unpackedKernel(root: string): Promise<TestKernel | undefined> {
  const names = await readdir(join(root, 'boot')).catch(() => []);
  const image = names.find((n) => n.startsWith('vmlinuz-'));
  if (!image) return undefined;
  const version = image.slice('vmlinuz-'.length);
  return { root, version, image: join(root, 'boot', image), modulesDir: join(root, 'lib', 'modules', version) };
}

/** A cache entry counts only once depmod has run in it (the package's postinst would have). */
async function cachedKernel(root: string): Promise<TestKernel | undefined> {
  const k = await unpackedKernel(root);
  return k && (await hasModulesDep(k.modulesDir)) ? k : undefined;
}

/**
 * The metapackage's kernel, unpacked into .cache/kernels/<package> with depmod run. Says why it is
 * unavailable only when apt cannot reach the archive; any other failure fails the test.
 */
export async function fetchKernel(spec: KernelPackage): Promise<TestKernel | { unavailable: string }> {
  const apt = spec.suite ? await ownAptConfig(spec.suite) : { options: [], refresh: () => Promise.resolve() };
  const from = spec.suite ? ` from ${spec.suite}` : '';
  const resolvePackage = async () => {
    const deps = await run('apt-cache', [...apt.options, 'depends', spec.metapackage]);
    return /Depends: (linux-image-\d\S*)/.exec(deps.stdout)?.[1];
  };
  let pkg: string | undefined;
  try {
    await apt.refresh(false);
    pkg = await resolvePackage();
  } catch (e) {
    return { unavailable: `apt cannot tell the package behind ${spec.metapackage}${from}: ${(e as Error).message}` };
  }
  if (!pkg) return { unavailable: `apt knows no ${spec.metapackage}${from} (run apt-get update)` };
  const root = join(CACHE, 'kernels', pkg);
  const cached = await cachedKernel(root);
  if (cached) return cached;
  let unavailable: string | undefined;
  await unpackDebianPackage({
    dest: root,
    isComplete: async (dest) => Boolean(await cachedKernel(dest)),
    download: async (cwd) => {
      try {
        await aptDownload(pkg, cwd, apt.options);
      } catch (first) {
        // Lists a day old may name a version the archive has dropped since: fetch them again once.
        if (!spec.suite) {
          unavailable = `apt-get download ${pkg} failed: ${(first as Error).message}`;
          throw first;
        }
        try {
          await apt.refresh(true);
          await aptDownload((await resolvePackage()) ?? pkg, cwd, apt.options);
        } catch (e) {
          unavailable = `apt-get download ${pkg}${from} failed: ${(e as Error).message}`;
          throw e;
        }
      }
    },
    prepare: async (tree) => {
      const unpacked = await unpackedKernel(tree);
      if (!unpacked) throw new Error(`${pkg} holds no boot/vmlinuz-*`);
      await run('depmod', ['-b', unpacked.root, unpacked.version]);
    },
  }).catch((e: unknown) => {
    if (unavailable === undefined) throw e;
  });
  if (unavailable !== undefined) return { unavailable };
  const fetched = await cachedKernel(root);
  if (!fetched) throw new Error(`${pkg} unpacked into ${root} but has no modules.dep`);
  return fetched;
}

/** Debian's newest kernel generation for bookworm: the backports kernel (6.12 today, modules .ko.xz). */
export const BACKPORTS_KERNEL: KernelPackage = { metapackage: 'linux-image-amd64', suite: 'bookworm-backports' };
/** A second flavour of the host's own kernel generation. */
export const RT_KERNEL: KernelPackage = { metapackage: 'linux-image-rt-amd64' };
