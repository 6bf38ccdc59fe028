/**
 * Debian live-boot: initramfs-tools with the live-boot hooks (Debian's defaults, MODULES=most), the
 * squashfs in /live/ on the medium, booted with `boot=live` (tmpfs-backed overlay over the squashfs).
 */
import { chrootTool } from './chroot-tool.js';
import type { Competitor } from './types.js';

export function liveBoot(): Competitor {
  return chrootTool({
    name: 'Debian live-boot',
    how: 'boot=live',
    tree: (kver) => ({ name: 'chroot-live-boot', include: [`linux-image-${kver}`, 'initramfs-tools', 'live-boot', 'live-boot-initramfs-tools', 'zstd'] }),
    label: 'LIVEBOOT',
    squashfsPath: '/live/filesystem.squashfs',
    cmdline: 'boot=live',
    initramfsCommand: (kver, out) => ['mkinitramfs', '-c', 'zstd', '-o', out, kver],
  });
}
