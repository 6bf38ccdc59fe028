/**
 * Boots an image in QEMU (software emulation) as a USB stick on an xHCI controller, the serial
 * console captured line by line. Used by `flashroot try`, the tests and the benchmarks.
 */
import { access } from 'node:fs/promises';
import { FlashrootError } from '../errors.js';
import { start } from '../util/run.js';
import { preflight } from '../util/tools.js';

export const OVMF = '/usr/share/ovmf/OVMF.fd';
/** Debian's OVMF builds with Secure Boot: the code, and the variable stores to copy per boot. */
export const OVMF_SECBOOT_CODE = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
/** Microsoft's KEK and db (Windows and UEFI CA 2011), as on a PC sold with Secure Boot on. */
export const OVMF_MS_CODE = '/usr/share/OVMF/OVMF_CODE_4M.ms.fd';
export const OVMF_MS_VARS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';
export const OVMF_SNAKEOIL_VARS = '/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd';
/** The QEMU device id of the stick, for QMP (e.g. device_del to pull it out). */
export const STICK_DEVICE_ID = 'stick-dev';

export interface BootOptions {
  image: string;
  uefi?: boolean;
  memoryMiB?: number;
  /** Virtual CPUs (QEMU -smp); QEMU's default is one. */
  cpus?: number;
  /** Text whose appearance on the console counts as success. */
  expect?: string;
  /** Console text that means the boot failed (stop early). */
  failOn?: readonly string[];
  timeoutSec: number;
  /** Let the guest write to the image; otherwise writes go to a throwaway snapshot. */
  writable?: boolean;
  /** Attach as a virtio disk instead of a USB stick. */
  attach?: 'usb' | 'virtio';
  /** User-mode networking; the host is 10.0.2.2 from the guest. */
  network?: boolean;
  /** The emulated NIC (QEMU's -nic model=), when networked. */
  nicModel?: string;
  /** A QMP unix socket path, for tests that inspect or change the running VM. */
  qmpSocket?: string;
  extraArgs?: readonly string[];
  /**
   * UEFI firmware with Secure Boot enforced: the code and a private, writable copy of a variable
   * store (the firmware writes to it, so never pass the packaged file).
   */
  secureBoot?: { code: string; vars: string };
  /** Every console line, as it arrives; `type` sends keystrokes to the serial console. */
  onLine?: (line: string, type: (text: string) => void) => void;
  /** The user's terminal types into the serial console (interactive `flashroot try`). */
  terminal?: boolean;
  /** After the expected text, keep reading this long (or until QEMU exits). */
  graceMs?: number;
}

export interface BootResult {
  matched: boolean;
  failedOn?: string;
  timedOut: boolean;
  /** QEMU's exit code (through `timeout`); undefined when it ended on a signal. */
  exitCode?: number;
  console: string[];
  /** Milliseconds from starting QEMU to the expected text. */
  msToExpect?: number;
  elapsedMs: number;
}

export function qemuArgs(o: BootOptions): string[] {
  const drive = `if=none,id=stick,format=raw,file=${o.image}${o.writable ? '' : ',snapshot=on'}`;
  const args = ['-m', String(o.memoryMiB ?? 1024), '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-rtc', 'base=utc'];
  // A CPU random number generator, as every PC of the last decade has: without it the kernel's
  // entropy pool takes 10-30 s to fill under emulation, and clients that need random bytes at
  // start (rclone's TLS, ssh) wait for it, so network boots timed out on a loaded machine.
  args.push('-cpu', 'qemu64,+rdrand');
  if (o.cpus !== undefined) args.push('-smp', String(o.cpus));
  if (o.secureBoot) {
    // Secure Boot variables are only protected, and so only enforced, behind SMM on q35.
    args.push(
      '-machine', 'q35,smm=on',
      '-global', 'driver=cfi.pflash01,property=secure,value=on',
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${o.secureBoot.code}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${o.secureBoot.vars}`,
    );
  } else if (o.uefi) args.push('-bios', OVMF);
  args.push('-drive', drive);
  if ((o.attach ?? 'usb') === 'usb') {
    args.push('-device', 'qemu-xhci,id=xhci', '-device', `usb-storage,id=${STICK_DEVICE_ID},bus=xhci.0,drive=stick,removable=on,bootindex=1`);
  } else {
    args.push('-device', `virtio-blk-pci,id=${STICK_DEVICE_ID},drive=stick,bootindex=1`);
  }
  args.push(...(o.network ? ['-nic', `user,model=${o.nicModel ?? 'virtio-net-pci'}`] : ['-nic', 'none']));
  if (o.qmpSocket) args.push('-qmp', `unix:${o.qmpSocket},server=on,wait=off`);
  args.push(...(o.extraArgs ?? []));
  return args;
}

export async function bootImage(o: BootOptions): Promise<BootResult> {
  const firmware = o.secureBoot ? [o.secureBoot.code, o.secureBoot.vars] : o.uefi ? [OVMF] : [];
  await preflight(['qemu-system-x86_64', 'timeout'], firmware.map((path) => ({ path, why: 'boot under UEFI firmware', apt: 'ovmf' })));
  await access(o.image).catch(() => {
    throw new FlashrootError('EINPUT', `image '${o.image}' does not exist`, { hint: 'build one first: flashroot build', exitCode: 3 });
  });
  const started = performance.now();
  const consoleLines: string[] = [];
  const result: BootResult = { matched: false, timedOut: false, console: consoleLines, elapsedMs: 0 };
  // `timeout` ends QEMU even if this process dies first, and forwards our SIGTERM to it.
  const proc = start('timeout', ['--kill-after=5', String(o.timeoutSec), 'qemu-system-x86_64', ...qemuArgs(o)], {
    interactive: !o.terminal,
    inheritStdin: o.terminal,
    onStdoutLine: (raw) => {
      // Strip the ANSI sequences the boot menus draw with.
      // eslint-disable-next-line no-control-regex
      const line = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
      consoleLines.push(line);
      o.onLine?.(line, (t) => proc.write(t));
      if (!result.matched && o.expect && line.includes(o.expect)) {
        result.matched = true;
        result.msToExpect = performance.now() - started;
        setTimeout(() => proc.kill('SIGTERM'), o.graceMs ?? 3000).unref();
      }
      const failed = o.failOn?.find((f) => line.includes(f));
      if (failed && !result.failedOn && !result.matched) {
        result.failedOn = line;
        setTimeout(() => proc.kill('SIGTERM'), 1000).unref();
      }
    },
    onStderrLine: (line) => {
      consoleLines.push(`[qemu] ${line}`);
      o.onLine?.(`[qemu] ${line}`, (t) => proc.write(t));
    },
  });
  const code = await proc.exited.catch(() => undefined);
  result.timedOut = code === 124 || code === 137;
  result.exitCode = code;
  result.elapsedMs = performance.now() - started;
  return result;
}
