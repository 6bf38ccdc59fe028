/**
 * Measured mode: boot the stick in QEMU, run a workload in its root, and count what reaches the
 * stick with QEMU's own block statistics (query-blockstats over QMP: bytes and write operations
 * the emulated USB disk received), plus how much the tmpfs upper layer grew. Then the same on a
 * read-write root for comparison.
 *
 * Both boots use the kernel from the stick, loaded by QEMU (-kernel) so we choose the command line:
 * `flashroot.init=/bin/sh` gives a shell that reads the workload from the serial console. The stick
 * itself stays attached exactly as `flashroot try` attaches it (usb-storage on xHCI, snapshot=on so
 * the image file is never changed; the counters still see every guest write).
 *
 * The read-write comparison root is the stick's own squashfs unpacked into an ext4 image (journal on,
 * mounted rw, 4 KiB blocks like any real root), attached the same way and booted with the same kernel
 * and Debian's stock initramfs for it (`root=/dev/sda rw`). Same files, same kernel, same USB device
 * model, same workload: the only difference is where writes go. Boot-time writes (ext4 mount, journal
 * replay) fall before the baseline.
 */
import { access, mkdtemp, open, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlashrootError, InputError } from '../errors.js';
import { kernelVersionFromImage } from '../kernel/version.js';
import { parseMbr, SECTOR } from '../disk/mbr.js';
import { FatVolume } from '../disk/fat.js';
import { probeStickImage } from '../disk/probe.js';
import { currentRootPath, readSlots } from '../stick/read.js';
import { initrdPath, kernelPath, type SlotId } from '../stick/paths.js';
import { bootImage } from '../qemu/boot.js';
import { QmpClient, queryBlockstats, type BlockDeviceStats } from '../qemu/qmp.js';
import type { Reporter } from '../util/log.js';
import { run } from '../util/run.js';
import { preflight } from '../util/tools.js';
import { DEFAULT_WORKLOAD, guestScript, parseMarkerLine, workloadSucceeded, type MarkerLine } from './guest-script.js';
import { projectDaily, type Measurement } from './measurement.js';

export interface MeasureRequest {
  image: string;
  /** A whole-disk ext4 image of a root to compare against; made from the stick's root when absent. */
  rwImage: string | undefined;
  workload: string | undefined;
  minutes: number;
  reporter: Reporter;
}

/** The drive id bootImage gives the stick: the block backend whose counters we read. */
const STICK_DRIVE = 'stick';
// Where the build puts them for syslinux (src/pipeline/build.ts).
// The kernel's line as it starts the initramfs's /init; the shell's own line as a fallback.
const USERSPACE_STARTED = /Run \/init as init process|job control turned off/;
// Without KVM, on a shared machine, the Debian initramfs alone can take a minute.
const BOOT_BUDGET_SEC = 300;

export async function measureWrites(req: MeasureRequest): Promise<Measurement[]> {
  await preflight(['qemu-system-x86_64', 'timeout', 'mcopy', 'unsquashfs', 'mke2fs']);
  await mustExist(req.image, 'image', 'Build one first: flashroot build --demo --out images/demo.img');
  if (req.rwImage !== undefined) await mustExist(req.rwImage, 'read-write comparison image', "Leave out --rw-image to have one made from the stick's root.");
  const workload = req.workload ?? DEFAULT_WORKLOAD;
  const windowSeconds = Math.max(1, Math.round(req.minutes * 60));
  const work = await mkdtemp(join(tmpdir(), 'flashroot-endurance-'));
  try {
    const stick = await extractBootFiles(req.image, work);
    const rwInitrd = await stockInitrdFor(stick.kernel);
    const overlay = await req.reporter.step(`Measuring the overlay root (${windowSeconds} s of workload)`, () =>
      measureOnce({ root: 'overlay', disk: req.image, kernel: stick.kernel, initrd: stick.initrd, append: 'flashroot.init=/bin/sh', workload, windowSeconds, work }),
    );
    const rwImage = req.rwImage ?? (await req.reporter.step('Making the read-write comparison root (ext4)', () => makeRwImage(req.image, stick.partitionOffset, work)));
    const rw = await req.reporter.step(`Measuring the read-write root (${windowSeconds} s of workload)`, () =>
      measureOnce({ root: 'rw', disk: rwImage, kernel: stick.kernel, initrd: rwInitrd, append: 'root=/dev/sda rw init=/bin/sh', workload, windowSeconds, work }),
    );
    return [overlay, rw];
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function mustExist(path: string, what: string, hint: string): Promise<void> {
  await access(path).catch(() => {
    throw new InputError(path, `${what} '${path}' does not exist`, hint);
  });
}

async function partitionOffset(image: string): Promise<number> {
  const f = await open(image, 'r');
  try {
    const sector0 = Buffer.alloc(SECTOR);
    await f.read(sector0, 0, SECTOR, 0);
    const first = parseMbr(sector0).partitions[0];
    if (!first) throw new Error('no partition');
    return first.startLba * SECTOR;
  } catch (err) {
    throw new InputError(image, `${image} is not a flashroot stick image: ${(err as Error).message}`, 'Give an image made by flashroot build.');
  } finally {
    await f.close();
  }
}

async function copyFromFat(image: string, offset: number, from: string, to: string): Promise<string> {
  try {
    await run('mcopy', ['-n', '-i', `${image}@@${offset}`, `::${from}`, to]);
  } catch (err) {
    throw new InputError(image, `${image} has no ${from} in its FAT partition (${(err as Error).message.split('\n')[0]})`, 'Measured mode needs a stick built with BIOS boot (--boot bios or hybrid), which keeps the kernel and initramfs as files.');
  }
  return to;
}

async function extractBootFiles(image: string, work: string): Promise<{ kernel: string; initrd: string; partitionOffset: number }> {
  const offset = await partitionOffset(image);
  return {
    kernel: await copyFromFat(image, offset, kernelPath((await currentOf(image)).slot), join(work, 'vmlinuz')),
    initrd: await copyFromFat(image, offset, initrdPath((await currentOf(image)).slot), join(work, 'initrd.img')),
    partitionOffset: offset,
  };
}

/** Debian's own initramfs for the stick's kernel: it mounts an ext4 root from a USB disk. */
async function stockInitrdFor(kernel: string): Promise<string> {
  const version = await kernelVersionFromImage(kernel);
  const initrd = `/boot/initrd.img-${version}`;
  await mustExist(initrd, `stock initramfs for kernel ${version} (to boot the read-write comparison root)`, `Install the kernel package (apt-get install linux-image-${version}) or run update-initramfs -c -k ${version}.`);
  return initrd;
}

/** The slot the stick boots, and its root image (whose name carries its hash). */
async function currentOf(image: string): Promise<{ slot: SlotId; root?: string }> {
  const { fat: part } = await probeStickImage(image);
  const fat = await FatVolume.mount(image, part.startLba * SECTOR, part.sectors * SECTOR);
  try {
    const slots = readSlots(fat);
    return { slot: slots.state?.current ?? 'a', root: currentRootPath(slots) };
  } finally {
    fat.close();
  }
}

async function rootPathOf(image: string): Promise<string> {
  const { root } = await currentOf(image);
  if (!root) throw new InputError(image, `${image} has no root image in its FAT partition`, 'Measured mode needs a stick with a local root (flashroot build without --lower).');
  return root;
}

async function makeRwImage(image: string, offset: number, work: string): Promise<string> {
  const sqfs = await copyFromFat(image, offset, await rootPathOf(image), join(work, 'root.sqfs'));
  const rootDir = join(work, 'root');
  await run('unsquashfs', ['-no-progress', '-d', rootDir, sqfs]);
  const { size } = await stat(sqfs);
  const out = join(work, 'rw-root.ext4');
  await writeFile(out, '');
  // Room for the workload; the file is sparse.
  await truncate(out, Math.max(512 * 2 ** 20, size * 8));
  // 4 KiB blocks as on any real root (mke2fs picks 1 KiB for small images), and inode tables and the
  // journal zeroed now: lazy init would have ext4lazyinit write them during the measurement.
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-L', 'flashroot-rw', '-d', rootDir, out]);
  return out;
}

interface OneBoot {
  root: Measurement['root'];
  disk: string;
  kernel: string;
  initrd: string;
  append: string;
  workload: string;
  windowSeconds: number;
  work: string;
}

type Stats = BlockDeviceStats['stats'];

async function measureOnce(b: OneBoot): Promise<Measurement> {
  const socket = join(b.work, `qmp-${b.root}.sock`);
  const marks: { line: MarkerLine; stats: Promise<Stats> }[] = [];
  const script = guestScript(b.workload, b.windowSeconds);
  let typed = false;
  // Connects as soon as QEMU has made the socket; a failure is reported through the boot result.
  const qmp = QmpClient.connect(socket, { timeoutMs: 30_000 });
  qmp.catch(() => undefined);
  const boot = bootImage({
    image: b.disk,
    qmpSocket: socket,
    extraArgs: ['-kernel', b.kernel, '-initrd', b.initrd, '-append', `console=ttyS0,115200 ${b.append}`],
    expect: 'FLASHROOT-MEASURE-END',
    failOn: ['flashroot: FAIL', 'Kernel panic', 'end Kernel panic'],
    timeoutSec: BOOT_BUDGET_SEC + b.windowSeconds,
    graceMs: 500,
    onLine: (line, type) => {
      // Type only once userspace runs: the kernel has set up the UART and opened the console by then,
      // so the text waits in the tty until the shell reads it.
      if (!typed && USERSPACE_STARTED.test(line)) {
        typed = true;
        type(script);
      }
      const mark = parseMarkerLine(line);
      // Read the counters the moment the guest says so; the reply comes in milliseconds.
      if (mark) marks.push({ line: mark, stats: qmp.then((q) => queryBlockstats(q, STICK_DRIVE)) });
    },
  });
  const result = await boot;
  (await qmp.catch(() => undefined))?.close();
  const start = marks.find((m) => m.line.kind === 'START');
  const end = marks.find((m) => m.line.kind === 'END');
  if (!result.matched || !start || !end) {
    const why = result.failedOn ?? (result.timedOut ? `no result within ${BOOT_BUDGET_SEC + b.windowSeconds} s` : 'the machine stopped early');
    throw new FlashrootError('EMEASURE', `Measuring the ${b.root} root failed: ${why}.\n${result.console.slice(-15).join('\n')}`, {
      hint: 'Check that the image boots (flashroot try IMAGE) and that its root has /bin/sh.',
    });
  }
  if (!workloadSucceeded(end.line.rc)) {
    throw new FlashrootError('EMEASURE', `The workload failed in the ${b.root} root with exit status ${end.line.rc}.`, {
      hint: 'Try the command in the root first (flashroot try IMAGE with a shell); the root may lack a tool it uses.',
    });
  }
  const [s0, s1] = [await start.stats, await end.stats];
  const upper = start.line.upperKiB !== undefined && end.line.upperKiB !== undefined ? (end.line.upperKiB - start.line.upperKiB) * 1024 : undefined;
  return projectDaily({
    root: b.root,
    workload: b.workload,
    seconds: b.windowSeconds,
    writeBytes: s1.wr_bytes - s0.wr_bytes,
    writeOps: s1.wr_operations - s0.wr_operations,
    ...(upper === undefined ? {} : { upperBytes: upper }),
  });
}
