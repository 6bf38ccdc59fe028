/**
 * The proof that the module set works, not just that it looks right: boot the installed kernel in
 * QEMU with an initramfs of busybox + the storage+fs modules as the build stages them (a squashfs
 * mounted over their directory, with squashfs and loop beside it), let busybox modprobe load the
 * whole loadOrder, coldplug a USB stick from its modalias, and mount vfat -> squashfs (loop) -> overlay.
 * About 15-40 s without KVM.
 */
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCpio } from '../../../src/initramfs/cpio.js';
import { resolveModules, type ResolvedModules } from '../../../src/initramfs/modules.js';
import { MODULES_IMAGE_PATH, stageModulesImage } from '../../../src/initramfs/modules-image.js';
import { entriesFromDir } from '../../../src/initramfs/tree.js';
import { run } from '../../../src/util/run.js';
import { installedKernel } from '../../helpers/kernels.js';

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "PLAIN: $(find /lib/modules -name '*.ko' | wc -l)"
modprobe squashfs; modprobe loop
mount -t squashfs -o ro,loop /${MODULES_IMAGE_PATH} /lib/modules/$(uname -r) && echo IMAGE-OK
for m in $(cat /etc/load-order); do modprobe "$m" 2>&1 || echo "FAIL modprobe $m"; done
i=0
while [ ! -b /dev/sda ] && [ $i -lt 100 ]; do
  modprobe -qa $(cat /sys/bus/*/devices/*/modalias 2>/dev/null); sleep 0.2; i=$((i+1))
done
echo "LOADED: $(cut -d' ' -f1 /proc/modules | tr '\\n' ' ')"
mount -t vfat -o ro /dev/sda /mnt && echo VFAT-OK
mount -t squashfs -o loop,ro /mnt/root.sqfs /lower && echo SQUASHFS-OK
mount -t tmpfs tmpfs /run && mkdir /run/upper /run/work
mount -t overlay -o lowerdir=/lower,upperdir=/run/upper,workdir=/run/work overlay /newroot && echo "OVERLAY: $(cat /newroot/hello)"
poweroff -f
`;

describe('the storage+fs module set in a real boot', () => {
  let dir: string;
  let resolved: ResolvedModules;
  let serial: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flashroot-modload-'));
    const kernel = await installedKernel();
    resolved = await resolveModules(kernel.modulesDir, { groups: ['storage', 'fs'] });
    const root = join(dir, 'root');
    await mkdir(root);
    await stageModulesImage(resolved, kernel.modulesDir, root, { work: dir, compressor: 'zstd', epoch: 0 });
    for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'mnt', 'lower', 'run', 'newroot']) await mkdir(join(root, d), { recursive: true });
    await copyFile('/usr/bin/busybox', join(root, 'bin/busybox'));
    await chmod(join(root, 'bin/busybox'), 0o755);
    await writeFile(join(root, 'etc/load-order'), `${resolved.loadOrder.join('\n')}\n`);
    await writeFile(join(root, 'init'), INIT, { mode: 0o755 });
    await writeFile(join(dir, 'initrd'), writeCpio(await entriesFromDir(root)));

    // The stick: FAT32 holding a squashfs, written without mounting anything on the host.
    await mkdir(join(dir, 'lower'));
    await writeFile(join(dir, 'lower/hello'), 'hello from the lower layer\n');
    await run('mksquashfs', [join(dir, 'lower'), join(dir, 'root.sqfs'), '-quiet', '-noappend']);
    await run('truncate', ['-s', '40M', join(dir, 'stick.img')]);
    await run('mkfs.vfat', ['-F', '32', join(dir, 'stick.img')]);
    await run('mcopy', ['-i', join(dir, 'stick.img'), join(dir, 'root.sqfs'), '::root.sqfs']);

    const qemu = await run('qemu-system-x86_64', [
      '-machine', 'q35', '-cpu', 'max', '-m', '256', '-nographic', '-no-reboot',
      '-kernel', kernel.image, '-initrd', join(dir, 'initrd'),
      '-append', 'console=ttyS0 panic=-1 quiet',
      '-device', 'qemu-xhci', '-drive', `if=none,id=stick,file=${join(dir, 'stick.img')},format=raw`, '-device', 'usb-storage,drive=stick',
    ], { timeoutMs: 200_000 });
    serial = qemu.stdout;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('mounts the modules image, from beside it only the modules the mount takes', () => {
    expect(serial).toContain('IMAGE-OK');
    // squashfs and loop, modules on Debian's kernel.
    expect(serial).toContain('PLAIN: 2');
  });

  it('busybox modprobe loads every module of the loadOrder', () => {
    expect(serial).not.toMatch(/FAIL modprobe/);
    const loaded = (/LOADED: (.*)/.exec(serial)?.[1] ?? '').trim().split(' ');
    expect(new Set(loaded)).toEqual(new Set(resolved.loadOrder));
  });

  it('finds the USB stick by coldplug and mounts vfat, squashfs over loop, and overlay', () => {
    expect(serial).toContain('VFAT-OK');
    expect(serial).toContain('SQUASHFS-OK');
    expect(serial).toContain('OVERLAY: hello from the lower layer');
  });
});
