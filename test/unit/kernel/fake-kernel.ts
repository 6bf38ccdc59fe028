/** Fake kernels for tests that only read a kernel's version: no real bzImage needed. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fakeBzImage } from './fixtures.js';

/** Puts TREE/boot/vmlinuz-<v> and, when `modules` is set, an empty TREE/<modules>/<v> directory. */
export async function addFakeKernel(tree: string, version: string, modules: string | false = 'lib/modules'): Promise<void> {
  await mkdir(join(tree, 'boot'), { recursive: true });
  await writeFile(join(tree, 'boot', `vmlinuz-${version}`), fakeBzImage(version));
  if (modules) await mkdir(join(tree, modules, version), { recursive: true });
}
