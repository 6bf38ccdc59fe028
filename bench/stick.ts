/**
 * The stick the other tools boot from, made the simple way: one FAT32 partition holding the kernel,
 * the tool's initramfs and the root's squashfs where that initramfs looks for it, booted by syslinux
 * with a single entry. The same kernel and console as flashroot's sticks.
 */
import { assembleImage, stableId } from '../src/disk/image.js';
import { installSyslinux, syslinuxMbrCode } from '../src/boot/syslinux.js';
import { SYSLINUX_CFG } from '../src/stick/paths.js';

export interface LiveStickSpec {
  out: string;
  label: string;
  kernel: string;
  initrd: string;
  squashfs: string;
  /** Where the tool's initramfs expects the squashfs on the medium. */
  squashfsPath: string;
  /** The tool's own boot parameters. */
  cmdline: string;
}

/** flashroot's serial-console setting, so every tool's messages reach the console we read. */
export const CONSOLE_CMDLINE = 'console=tty0 console=ttyS0,115200';

export function liveSyslinuxCfg(cmdline: string): string {
  // No PROMPT and no UI: syslinux boots the default entry at once, like flashroot's menu at timeout 0.
  return ['DEFAULT live', 'PROMPT 0', 'LABEL live', '  LINUX /boot/vmlinuz', '  INITRD /boot/initrd.img', `  APPEND ${CONSOLE_CMDLINE} ${cmdline}`, ''].join('\n');
}

export async function writeLiveStick(s: LiveStickSpec): Promise<void> {
  await assembleImage({
    out: s.out,
    files: [
      { path: '/boot/vmlinuz', content: { hostPath: s.kernel } },
      { path: '/boot/initrd.img', content: { hostPath: s.initrd } },
      { path: SYSLINUX_CFG, content: Buffer.from(liveSyslinuxCfg(s.cmdline)) },
      { path: s.squashfsPath, content: { hostPath: s.squashfs } },
    ],
    label: s.label,
    serial: stableId(undefined),
    diskSignature: stableId(undefined),
    mbrBootCode: await syslinuxMbrCode(),
    finish: (partial, offset) => installSyslinux(partial, offset),
  });
}
