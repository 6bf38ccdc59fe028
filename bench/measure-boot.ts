/**
 * One timed boot: QEMU start to the root's init printing its marker, the initramfs phase within it
 * (the kernel's "Run /init as init process" to the marker: firmware and kernel time are the same for
 * every tool, this part is what each tool's early userspace costs), and the bytes the guest wrote
 * to the stick meanwhile. The demo root's init writes a file, syncs and powers off (the short
 * workload); QEMU is told not to exit on power-off (-no-shutdown), so the stick's block counters
 * are read over QMP once the guest is down, then QEMU is told to quit.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlashrootError } from '../src/errors.js';
import { bootImage } from '../src/qemu/boot.js';
import { QmpClient, queryBlockstats } from '../src/qemu/qmp.js';
import { DEMO_MARKER } from '../src/root/demo-root.js';
import type { Firmware, RunningServer } from './competitors/types.js';

/** bootImage's id for the stick's block backend. */
const STICK_DRIVE = 'stick';
// Without KVM, a stock initramfs with every module can take a minute or more on a shared machine.
const BOOT_TIMEOUT_SEC = 600;
/** After the marker: the demo init's write, sync and power-off. */
const POWEROFF_WAIT_MS = 60_000;
const COUNTERS_WAIT_MS = 5_000;
const FAILURES = ['flashroot: FAIL', 'Kernel panic', 'end Kernel panic', 'Entering emergency mode', '(initramfs)', 'dracut Warning: Could not boot'];

export interface BootSample {
  msToMarker: number;
  /** From the kernel starting the initramfs's /init to the root's init printing its marker. */
  msInitramfs?: number;
  bytesWritten: number;
  /** The root's filesystem type as its init saw it ("overlay"). */
  rootFs?: string;
  /** Network lowers: bytes the server had sent when the marker appeared. */
  bytesFetched?: number;
}

export interface BootRequest {
  image: string;
  firmware: Firmware;
  work: string;
  /** The server a network lower is fetched from (the guest gets user networking). */
  server?: RunningServer;
}

/** What the kernel prints (at KERN_INFO, so every tool's command line must leave out `quiet`) as it starts the initramfs. */
const KERNEL_RUNS_INIT = 'Run /init as init process';
/** The demo init's "flashroot-demo: root SOURCE FSTYPE OPTIONS" line (not the marker, which starts alike). */
const ROOT_LINE = /flashroot-demo: root (?!init reached)\S+ (\S+)/;

export async function measureBoot({ image, firmware, work, server }: BootRequest): Promise<BootSample> {
  const socket = join(work, `qmp-${process.pid}-${Date.now()}.sock`);
  const qmp = QmpClient.connect(socket, { timeoutMs: 30_000 });
  // A failed connection shows up as missing counters below, with the boot's own diagnosis.
  qmp.catch(() => undefined);
  const written = qmp.then(async (q) => {
    await q.waitForEvent((e) => e.event === 'SHUTDOWN', (BOOT_TIMEOUT_SEC * 1000) + POWEROFF_WAIT_MS);
    const stats = await queryBlockstats(q, STICK_DRIVE);
    await q.execute('quit').catch(() => undefined);
    return stats.wr_bytes;
  });
  written.catch(() => undefined);
  let fetched: Promise<number> | undefined;
  // Host-side arrival times of the two serial lines: the marker line has no kernel timestamp.
  let initramfsAt: number | undefined;
  let markerAt: number | undefined;
  const result = await bootImage({
    image,
    uefi: firmware === 'UEFI',
    network: Boolean(server),
    onLine: (line) => {
      if (initramfsAt === undefined && line.includes(KERNEL_RUNS_INIT)) initramfsAt = performance.now();
      if (markerAt !== undefined || !line.includes(DEMO_MARKER)) return;
      markerAt = performance.now();
      if (server) fetched = server.bytesServed();
    },
    qmpSocket: socket,
    extraArgs: ['-no-shutdown'],
    expect: DEMO_MARKER,
    failOn: FAILURES,
    timeoutSec: BOOT_TIMEOUT_SEC,
    graceMs: POWEROFF_WAIT_MS,
  });
  // Once QEMU is gone the counters were either read already or never will be.
  const bytesWritten = await Promise.race([written.catch(() => undefined), sleep(COUNTERS_WAIT_MS).then(() => undefined)]);
  (await qmp.catch(() => undefined))?.close();
  if (!result.matched || result.msToExpect === undefined || bytesWritten === undefined) {
    const why = result.failedOn
      ? `it failed: ${result.failedOn}`
      : result.timedOut
        ? `no marker within ${BOOT_TIMEOUT_SEC} s`
        : result.matched
          ? 'the guest did not power off after the marker, so the write counters were not read'
          : 'QEMU stopped before the marker';
    throw new FlashrootError('EBENCH', `booting ${image} (${firmware}) to the root's init: ${why}\n${result.console.slice(-20).join('\n')}`, {
      hint: `boot it by hand to see the whole console: flashroot try ${image}${firmware === 'UEFI' ? ' --uefi' : ''} --timeout ${BOOT_TIMEOUT_SEC}`,
    });
  }
  const rootFs = result.console.map((l) => ROOT_LINE.exec(l)?.[1]).find(Boolean);
  const bytesFetched = await fetched;
  const msInitramfs = initramfsAt !== undefined && markerAt !== undefined ? markerAt - initramfsAt : undefined;
  return {
    msToMarker: result.msToExpect,
    bytesWritten,
    ...(msInitramfs === undefined ? {} : { msInitramfs }),
    ...(rootFs ? { rootFs } : {}),
    ...(bytesFetched === undefined ? {} : { bytesFetched }),
  };
}
