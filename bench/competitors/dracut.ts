/**
 * dracut's dmsquash-live: a generic (--no-hostonly) initramfs with the dmsquash-live module, the
 * squashfs at /LiveOS/squashfs.img on the labelled medium, an overlayfs root (rd.live.overlay.overlayfs).
 */
import { chrootTool } from './chroot-tool.js';
import type { Competitor } from './types.js';

const LABEL = 'DRACUTLIVE';

export function dracutLive(): Competitor {
  return chrootTool({
    name: 'dracut dmsquash-live',
    how: `root=live:LABEL=${LABEL}`,
    tree: (kver) => ({ name: 'chroot-dracut', include: [`linux-image-${kver}`, 'dracut', 'dracut-live', 'zstd'] }),
    label: LABEL,
    squashfsPath: '/LiveOS/squashfs.img',
    cmdline: `root=live:LABEL=${LABEL} rd.live.overlay.overlayfs=1`,
    // No early microcode: the chroot has none, and one zstd stream keeps the size measurement simple.
    initramfsCommand: (kver, out) => ['dracut', '--no-hostonly', '--no-early-microcode', '--add', 'dmsquash-live', '--zstd', '--force', '--kver', kver, out],
  });
}
