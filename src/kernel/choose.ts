/**
 * Which kernel goes on the stick, and why. A captured root boots with its own kernel: its
 * /lib/modules then matches what `uname -r` says, so the booted system can load its NIC, sound and
 * GPU drivers. Only a root without a kernel of its own (the demo root, a container-made root)
 * takes the build host's.
 */
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathInRoot } from '../root/in-root.js';
import { findNewestKernel, kernelVersionFromImage, listKernels } from './version.js';

export interface ChosenKernel {
  image: string;
  /** The release inside the image: what `uname -r` will say at boot. */
  version: string;
  modulesDir: string;
  /** One line for the build summary: where the kernel came from and why that one. */
  why: string;
}

export interface KernelRequest {
  kernel?: string;
  modules?: string;
  /** The root being captured; undefined for the demo root. */
  root?: string;
}

/** Where the build host keeps its kernels; tests point it at a fake tree. */
export interface HostKernelDirs {
  boot: string;
  modules: string;
}

export const HOST_KERNEL_DIRS: HostKernelDirs = { boot: '/boot', modules: '/lib/modules' };

async function isDir(path: string | undefined): Promise<boolean> {
  return path !== undefined && (await stat(path).then((s) => s.isDirectory(), () => false));
}

/** <tree>/lib/modules/<version> as the tree's own system resolves it (/lib is often a symlink to usr/lib). */
async function modulesInTree(tree: string, version: string): Promise<string | undefined> {
  const dir = await pathInRoot(tree, `/lib/modules/${version}`);
  return dir?.exists && (await isDir(dir.host)) ? dir.host : undefined;
}

/** The newest ROOT/boot/vmlinuz-<v> that has ROOT/lib/modules/<v>: a kernel without modules cannot serve the root. */
async function rootKernel(root: string): Promise<ChosenKernel | { none: string }> {
  const bootDir = await pathInRoot(root, '/boot');
  const kernels = bootDir?.exists ? await listKernels(bootDir.host) : [];
  if (kernels.length === 0) return { none: `the root has no kernel of its own (no ${join(root, 'boot')}/vmlinuz-*)` };
  for (const k of kernels) {
    const version = await kernelVersionFromImage(k.image);
    const modulesDir = await modulesInTree(root, version);
    if (modulesDir) {
      const others = kernels.length > 1 ? `, newest of ${kernels.length}` : '';
      return { image: k.image, version, modulesDir, why: `the root's own kernel${others}` };
    }
  }
  return { none: `the root's kernels (${kernels.map((k) => k.version).join(', ')}) have no modules in ${join(root, 'lib/modules')}` };
}

export async function chooseKernel(req: KernelRequest, host: HostKernelDirs = HOST_KERNEL_DIRS): Promise<ChosenKernel> {
  if (req.kernel) {
    const image = resolve(req.kernel);
    const version = await kernelVersionFromImage(image);
    if (req.modules) return { image, version, modulesDir: resolve(req.modules), why: '--kernel and --modules' };
    // DIR/boot/vmlinuz-V finds DIR/lib/modules/V: a kernel inside a root, or an unpacked kernel package.
    const own = await modulesInTree(dirname(dirname(image)), version);
    return own
      ? { image, version, modulesDir: own, why: '--kernel, with the modules beside it' }
      : { image, version, modulesDir: join(host.modules, version), why: `--kernel, with the build host's modules` };
  }
  const fromRoot = req.root ? await rootKernel(resolve(req.root)) : { none: 'the demo root has no kernel' };
  if ('image' in fromRoot) return req.modules ? { ...fromRoot, modulesDir: resolve(req.modules), why: `${fromRoot.why}, --modules` } : fromRoot;
  const newest = await findNewestKernel(host.boot);
  const version = await kernelVersionFromImage(newest.image);
  return {
    image: newest.image,
    version,
    modulesDir: req.modules ? resolve(req.modules) : join(host.modules, version),
    why: `the build host's newest: ${fromRoot.none}`,
  };
}
