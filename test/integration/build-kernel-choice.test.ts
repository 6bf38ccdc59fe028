/**
 * Which kernel a build takes, with real kernels: a root carrying Debian's rt kernel (not the
 * host's) boots with it, and Debian's cloud kernel (no USB drivers) is refused before any work.
 */
import { mkdir, mkdtemp, readdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../src/pipeline/build.js';
import { makeDemoRoot } from '../../src/root/demo-root.js';
import { Reporter } from '../../src/util/log.js';
import { fetchKernel, type TestKernel as FetchedKernel } from '../helpers/kernels.js';

const CLI = join(import.meta.dirname, '../../bin/flashroot.js');

let dir: string;
let rt: FetchedKernel | { unavailable: string };
let cloud: FetchedKernel | { unavailable: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kernel-choice-'));
  [rt, cloud] = [await fetchKernel({ metapackage: 'linux-image-rt-amd64' }), await fetchKernel({ metapackage: 'linux-image-cloud-amd64' })];
}, 600_000);

function need(k: FetchedKernel | { unavailable: string }, skip: (note: string) => void): FetchedKernel {
  if ('unavailable' in k) skip(k.unavailable);
  return k as FetchedKernel;
}

/** A small root that carries kernel k as an installed one would: ROOT/boot/vmlinuz-V and ROOT/lib/modules/V. */
async function rootWithKernel(name: string, k: FetchedKernel): Promise<string> {
  const root = join(dir, name);
  await makeDemoRoot(root);
  await mkdir(join(root, 'boot'));
  await symlink(k.image, join(root, 'boot', `vmlinuz-${k.version}`));
  // A real directory of links: the build resolves lib/modules/V inside the root, and each file
  // link is followed only when read.
  const modules = join(root, 'lib/modules', k.version);
  await mkdir(modules, { recursive: true });
  for (const entry of await readdir(k.modulesDir)) await symlink(join(k.modulesDir, entry), join(modules, entry));
  return root;
}

async function cli(args: string[]) {
  const out = join(dir, 'refused.img');
  const started = performance.now();
  const r = await execa(process.execPath, [CLI, 'build', '--out', out, ...args], { reject: false });
  return { ...r, ms: performance.now() - started, images: (await readdir(dir)).filter((f) => f.startsWith('refused.img')) };
}

describe('the kernel a build takes', () => {
  it("takes the root's own kernel, not the host's, and its modules", async ({ skip }) => {
    const k = need(rt, skip);
    const root = await rootWithKernel('rt-root', k);
    const r = await build({ root, out: join(dir, 'rt.img'), boot: 'bios', menuTimeout: 0 }, new Reporter(true));
    expect(r.kernel).toEqual({ image: join(root, 'boot', `vmlinuz-${k.version}`), version: k.version, modulesDir: join(root, 'lib/modules', k.version), why: "the root's own kernel" });
    expect(r.initramfs.modules).toBeGreaterThan(20);
  }, 300_000);

  const ways: [string, (k: FetchedKernel) => Promise<string[]>][] = [
    ['named with --kernel', (k) => Promise.resolve(['--demo', '--kernel', k.image])],
    ["a root's own", async (k) => ['--root', await rootWithKernel('cloud-root', k)]],
  ];
  it.for(ways)("refuses Debian's cloud kernel (%s) before any work, naming what is missing", { timeout: 120_000 }, async ([, args], { skip }) => {
    const k = need(cloud, skip);
    const r = await cli(await args(k));
    expect(r.stderr).toMatch(new RegExp(`Kernel ${k.version} cannot read a USB stick: it lacks a USB host controller driver .* and USB mass storage`));
    expect(r.stderr).toMatch(/^hint: .*linux-image-amd64/m);
    expect(r.exitCode).toBe(3);
    expect(r.images).toEqual([]);
    // Before any work: no squashfs was compressed, so the refusal takes about as long as node starting.
    expect(r.ms).toBeLessThan(15_000);
  });

  it('refuses a --hardware file it cannot read before any work, saying how to record one', async () => {
    const r = await cli(['--demo', '--hardware', join(dir, 'hots')]);
    expect(r.stderr).toMatch(/Cannot read hardware file .*hots/);
    expect(r.stderr).toMatch(/^hint: --hardware takes generic, host or such a file; record it on the box the stick will boot: flashroot hardware --save FILE/m);
    expect(r.exitCode).toBe(3);
    expect(r.images).toEqual([]);
  });
});
