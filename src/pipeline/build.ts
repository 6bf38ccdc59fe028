/**
 * `flashroot build`: a flat list of steps over one context. Every input and tool is checked
 * before the first byte is written; each step is announced and timed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError, KernelError } from '../errors.js';
import { copyAreaBytes, copyLayout, maxCopyImage } from '../stick/channel-copy.js';
import { installSyslinux, syslinuxFatFiles, syslinuxMbrCode, SYSLINUX_FILES } from '../boot/syslinux.js';
import { readBootBlobs, RESCUE_CMDLINE, slotMenu, systemdBootFiles, SYSTEMD_BOOT, type EspFile } from '../boot/systemd-boot.js';
import { UKI_STUB } from '../boot/uki.js';
import { kernelSigner, shimFiles } from '../boot/shim.js';
import { SIGNED_GRUB, SIGNED_MOK_MANAGER, SIGNED_SHIM, signedFile } from '../boot/signed-packages.js';
import { CHANNEL_FLOOR_PATH, initrdPath, kernelPath, modulesLayerPath, SLOT_STATE_PATH, slotManifestPath, squashfsPath, ukiPath } from '../stick/paths.js';
import { renderState, type SlotFile, type SlotFileRole, type SlotManifest } from '../stick/slots.js';
import { manifestName, renderFloor, signifyKeyNumber } from '../network/channel.js';
import type { ChannelStage } from '../network/initramfs.js';
import { checkSigningKey, signEspFiles } from '../boot/sign.js';
import { assembleImage, stableId, type ImageFile } from '../disk/image.js';
import { checkFreeSpace, checkImageSize } from '../disk/space.js';
import { buildInitramfs, type Initramfs } from '../initramfs/build.js';
import type { StickDrivers } from '../initramfs/stick-drivers.js';
import { chooseKernel, type ChosenKernel } from '../kernel/choose.js';
import { checkBootMedium, checkKernelFeatures } from '../kernel/features.js';
import { buildModulesLayer, planModulesLayer, type ModulesLayerPlan } from '../kernel/modules-layer.js';
import { HARDWARE_KINDS, hardwareRequest, type HardwareRequest } from '../kernel/hardware.js';
import { initramfsModules } from '../initramfs/build.js';
import { planStickRoot, type Adjustment, type RootPlan, type UserExcludes } from '../root/adjust.js';
import { captureRoot, type CapturedRoot } from '../root/capture.js';
import { makeDemoRoot } from '../root/demo-root.js';
import { makeSquashfs } from '../squashfs/mksquashfs.js';
import { writePseudoFile } from '../squashfs/pseudo.js';
import { makeNetworkImage, networkBuildTools, networkInitramfsHooks, type LayerBuild, type NetworkImage } from '../network/build-lower.js';
import type { NetLayer } from '../network/net-layer.js';
import { formatFidelity, treeFidelity, type FidelityLoss, type TreeBackend } from '../network/fidelity.js';
import { parseLower } from '../network/lower.js';
import { credentialsFromEnv, type S3Credentials } from '../network/s3.js';
import { sha256File } from '../util/hash.js';
import { formatBytes, formatMs, Reporter } from '../util/log.js';
import { removeOnInterrupt } from '../util/interrupt.js';
import { preflight, type RequiredFile } from '../util/tools.js';
import { checkBuildOptions, savesPolicy, type BuildOptions, type BuildOptionsInput, type UefiLoader } from './options.js';
import { formatAdjustments } from './report-adjustments.js';
import { normalisePattern } from '../root/glob.js';

/** FAT cannot store dates before 1980. */
const FAT_EPOCH_MIN = 315532800;

export interface BuildResult {
  image: string;
  imageBytes: number;
  squashfsBytes: number;
  squashfsSha256: string;
  /** Where the root's squashfs sits on the stick (content-addressed; a local lower). */
  squashfsPath: string;
  /** What slot a holds (src/stick/slots.ts): every file the build put there, with its sha256. */
  slot: SlotManifest;
  initramfs: { bytes: number; uncompressedBytes: number; parts: Initramfs['parts']; modules: number };
  /** The --hardware choice, and what the others would carry (module files as the kernel ships them). */
  hardware: {
    choice: string;
    describe: string;
    modules: number;
    bytes: number;
    alternatives: { choice: string; modules: number; bytes: number }[];
    /** The drivers left to the stick: its image there, read only when a NIC needs one of them (not the build host's file). */
    onStick?: Omit<StickDrivers, 'file' | 'sha256'>;
  };
  kernel: { image: string; version: string; modulesDir: string; why: string };
  /**
   * Where the booted system finds its kernel's modules: its own, a layer the stick carries
   * (modulesLayerPath, stacked under the root at `dest`), or none (a network lower over a root without them).
   */
  rootModules: { from: 'root'; dir: string } | { from: 'layer'; path: string; dest: string; bytes: number; modules: number } | { from: 'none'; why: string };
  boot: BuildOptions['boot'];
  /** The UEFI route (unset for a BIOS-only stick). */
  uefiLoader?: UefiLoader;
  /** With the shim route: who signed the kernel (undefined: unsigned, boots only with Secure Boot off). */
  kernelSigner?: string;
  signed: boolean;
  /** Set when the root is a network image: publish `path` where `url` points. */
  network?: Omit<NetworkImage, 'verity'> & { rootHash: string };
  /** A network lower's client, a squashfs inside the initramfs (net-layer.ts) mounted where it lies, and its unpacked bytes. */
  netLayer?: { bytes: number; clientBytes: number };
  /** With --channel: what the stick follows instead of the root hash above (which is this build's image, to publish as a version). */
  channel?: { name: string; manifestUrl: string; trustKey: string; keyNumber: string; offlineCopy?: { start: number; bytes: number; slotBytes: number; maxImageBytes: number } };
  /** With a file-level lower (sshfs, s3fs): what of the root it will not reproduce. */
  fidelity?: FidelityLoss[];
  /** How the root on the stick differs from its source, and why (none for the demo root). */
  adjustments: Adjustment[];
  /** build --persist: the saves area (MBR partition 2) and the policy baked in. */
  saves?: { start: number; bytes: number; persist: string[]; saveAtShutdown: boolean; saveEveryMinutes: number };
  buildId: string;
  cmdline: string;
  timings: { step: string; ms: number }[];
}

interface Context {
  o: BuildOptions;
  report: Reporter;
  work: string;
  epoch?: number;
  kernel: ChosenKernel;
  uefiLoader?: UefiLoader;
  kernelSigner?: string;
  rootDir: string;
  /** Undefined for the demo root, which is made to be booted as it is. */
  captured?: CapturedRoot;
  userExcludes: UserExcludes[];
  /** Set when the root has no modules for the kernel. */
  modulesLayer?: ModulesLayerPlan;
  hardware: HardwareRequest;
  /** The key the stick signs its reads of a private bucket with (--signed-reads). */
  s3Credentials?: S3Credentials;
  /** The signify key number of --trust (hex). */
  trustKeyNumber?: string;
  /** Stops removing the work directory on Ctrl-C (the build removes it itself). */
  release: () => void;
}

function buildEpoch(o: BuildOptions): number | undefined {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined && env !== '') {
    if (!/^\d+$/.test(env)) throw new InputError('SOURCE_DATE_EPOCH', `SOURCE_DATE_EPOCH='${env}' is not a number of seconds`, 'unset it or set it to a Unix time');
    return Math.max(FAT_EPOCH_MIN, Number(env));
  }
  return o.reproducible ? FAT_EPOCH_MIN : undefined;
}

/**
 * The modules layer's times, when the build has none fixed: the kernel's modules.dep, so the same
 * kernel gives a byte-identical layer whenever it is made again (cache evicted, another machine),
 * and flashroot update finds it on the stick already instead of writing 100 MB again.
 */
async function modulesEpoch(modulesDir: string): Promise<number> {
  const st = await stat(join(modulesDir, 'modules.dep')).catch(() => undefined);
  return Math.max(FAT_EPOCH_MIN, Math.floor((st?.mtimeMs ?? FAT_EPOCH_MIN * 1000) / 1000));
}

/** Shim by default, so a stick boots a PC as it ships; signing with one's own keys signs UKIs. */
function uefiLoaderOf(o: BuildOptions): UefiLoader | undefined {
  if (o.boot === 'bios') return undefined;
  return o.uefiLoader ?? (o.signKey ? 'systemd-boot' : 'shim');
}

async function checkTools(o: BuildOptions): Promise<void> {
  const bios = o.boot !== 'uefi';
  const uefi = uefiLoaderOf(o) === 'systemd-boot';
  const tools = ['mksquashfs', 'busybox', 'file', ...(o.initrdComp === 'gzip' ? [] : [o.initrdComp])];
  if (bios) tools.push('syslinux', 'mcopy');
  if (o.signKey) tools.push('sbsign', 'sbverify');
  if (uefiLoaderOf(o) === 'shim') tools.push('sbverify');
  tools.push(...networkBuildTools(parseLower(o.lower, o), Boolean(o.channel)));
  const files: RequiredFile[] = [...(bios ? SYSLINUX_FILES : []), ...(uefi ? [SYSTEMD_BOOT, UKI_STUB] : [])];
  await preflight(tools, files);
}

async function resolveKernel(o: BuildOptions): Promise<ChosenKernel> {
  const kernel = await chooseKernel({ kernel: o.kernel, modules: o.modules, root: o.demo ? undefined : o.root });
  const st = await stat(kernel.modulesDir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new KernelError(
      `no modules directory ${kernel.modulesDir} for kernel ${kernel.version} (${kernel.image})`,
      `install the kernel's modules (apt-get install linux-image-${kernel.version}), or point --modules at them`,
    );
  }
  await checkKernelFeatures(kernel.modulesDir);
  await checkBootMedium(kernel.modulesDir);
  return kernel;
}

/** The kernel is on the stick once for syslinux and once in each UKI; the root and initramfs come on top. */
async function contentsLowerBound(o: BuildOptions, kernelImage: string): Promise<number> {
  const copies = (o.boot !== 'uefi' ? 1 : 0) + (o.boot !== 'bios' ? slotMenu('a').length : 0);
  return copies * (await stat(kernelImage)).size;
}

function kernelCmdline(o: BuildOptions): string {
  // The last console= becomes /dev/console, the root's init's console; the flashroot init writes
  // to both and opens a rescue shell on each. `quiet` hides the kernel's messages below errors on
  // both (Linux 6.1 has one log level for all consoles); the init's own lines are written to the
  // ttys directly and stay.
  const consoles = o.console === 'serial' ? 'console=tty0 console=ttyS0,115200' : 'console=ttyS0,115200 console=tty0';
  return [consoles, o.quiet ? 'quiet' : '', o.cmdline].filter(Boolean).join(' ');
}

/** The rescue entry is for finding out what went wrong: the kernel's messages come back there. */
function rescueCmdline(o: BuildOptions): string {
  return o.quiet ? `${RESCUE_CMDLINE} loglevel=7` : RESCUE_CMDLINE;
}

async function prepare(input: BuildOptionsInput, report: Reporter, env: NodeJS.ProcessEnv): Promise<Context> {
  const o = await checkBuildOptions(input);
  const epoch = buildEpoch(o);
  // Read now, not after minutes of compressing: a missing key is the user's to fix first.
  const s3Credentials = o.signedReads ? credentialsFromEnv(env) : undefined;
  await checkTools(o);
  const trustKeyNumber = o.trust ? await readTrustKey(o.trust) : undefined;
  if (o.signKey && o.signCert) await checkSigningKey({ key: o.signKey, cert: o.signCert }, epoch);
  const kernel = await resolveKernel(o);
  const uefiLoader = uefiLoaderOf(o);
  let signer: string | undefined;
  if (uefiLoader === 'shim') {
    // Fetched now (once, into a cache) so a missing archive fails before minutes of compressing.
    await Promise.all([SIGNED_SHIM, SIGNED_MOK_MANAGER, SIGNED_GRUB].map((f) => signedFile(f)));
    signer = await kernelSigner(kernel.image);
  }
  const boot = { uefiLoader, kernelSigner: signer, trustKeyNumber };
  const hardware = await hardwareRequest(o.hardware, parseLower(o.lower, o).kind !== 'local');
  const out = resolve(o.out);
  // Before minutes of compressing: what is known of the contents already must fit.
  const atLeast = await contentsLowerBound(o, kernel.image);
  checkImageSize(o.size, atLeast, true, savesPolicy(o)?.bytes ?? o.offlineCopy?.bytes ?? 0);
  await checkFreeSpace(out, atLeast, true);
  await mkdir(dirname(out), { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'flashroot-build-'));
  const release = removeOnInterrupt(work);
  if (o.demo || !o.root) {
    const rootDir = join(work, 'demo-root');
    await makeDemoRoot(rootDir);
    const modulesLayer = await planModulesLayer(rootDir, kernel.version);
    return { o: { ...o, demo: true }, report, work, epoch, kernel, ...boot, s3Credentials, rootDir, userExcludes: [], modulesLayer, hardware, release };
  }
  try {
    const captured = await captureRoot(o.root, o.init, [out, `${out}.partial`, work], o.includeMount);
    const userExcludes = [{ source: '--exclude', patterns: o.exclude }, ...(o.excludeFrom ? [await readExcludeFrom(o.excludeFrom)] : [])];
    const modulesLayer = await planModulesLayer(captured.dir, kernel.version);
    return { o, report, work, epoch, kernel, ...boot, s3Credentials, rootDir: captured.dir, captured, userExcludes, modulesLayer, hardware, release };
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    release();
    throw e;
  }
}

/** The --trust key's number, read now: a wrong file is the user's to fix before minutes of compressing. */
async function readTrustKey(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new InputError(file, `--trust ${file}: cannot read it (${e.code ?? e.message})`, 'give the signify public key (.pub) the channel is signed with');
  });
  return signifyKeyNumber(text, file, 'public');
}

/** One pattern a line, as rsync's and mx-snapshot's lists are; blank lines and `#` comments skipped. */
async function readExcludeFrom(file: string): Promise<UserExcludes> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new InputError(file, `--exclude-from ${file}: cannot read it (${e.code ?? e.message})`, 'give a readable file with one exclude pattern a line');
  });
  const patterns = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map(normalisePattern)
    .filter(Boolean);
  return { source: `--exclude-from ${file}`, patterns };
}

/** `env` holds the S3 key for --signed-reads (AWS_ACCESS_KEY_ID…): secrets never travel as options. */
export async function build(input: BuildOptionsInput, report = new Reporter(Boolean(input.json)), env = process.env): Promise<BuildResult> {
  const ctx = await report.step('Checking inputs and tools', () => prepare(input, report, env));
  const { o, epoch, kernel } = ctx;
  try {
    const { captured } = ctx;
    const lower = parseLower(o.lower, o);
    const saves = savesPolicy(o);
    // A tree lower boots the server's tree, not this squashfs: adjusting it would change nothing.
    const treeLower = lower.kind === 'sshfs' || lower.kind === 's3fs';
    const plan: RootPlan = captured && !treeLower
      ? await report.step('Deciding what the booted system sees of the root (the source is not changed)', () => planStickRoot(captured, o.identity, ctx.userExcludes))
      : { excludes: [], pseudo: [], adjustments: [] };
    const pseudoDir = join(ctx.work, 'pseudo');
    await mkdir(pseudoDir);
    const pseudoFile = plan.pseudo.length ? await writePseudoFile(plan.pseudo, pseudoDir) : undefined;
    const sqfs = join(ctx.work, 'root.sqfs');
    await report.step(`Compressing the root (${ctx.rootDir}) to squashfs (${o.comp})`, () =>
      makeSquashfs({
        source: ctx.rootDir,
        output: sqfs,
        compressor: o.comp,
        excludes: plan.excludes,
        pseudoFile,
        epoch,
        onProgress: (pct) => report.progress(`${pct}%`),
      }),
    );
    // Network lowers never mount the stick's filesystem after boot, so the layer would be unreachable.
    const kmods =
      ctx.modulesLayer && lower.kind === 'local'
        ? await report.step(`Every module of ${kernel.version} as a layer of its own (the root has none for it; cached per kernel)`, async () =>
            buildModulesLayer(kernel.modulesDir, kernel.version, ctx.modulesLayer as ModulesLayerPlan, ctx.work, { compressor: o.comp, epoch: epoch ?? (await modulesEpoch(kernel.modulesDir)) }),
          )
        : undefined;
    const net =
      lower.kind === 'image'
        ? await report.step('Appending the dm-verity hash tree and naming the network image', () => makeNetworkImage(sqfs, lower, dirname(resolve(o.out))))
        : undefined;
    const tree = lower.kind === 'sshfs' || lower.kind === 's3fs' ? lower.kind : undefined;
    const fidelity = tree ? await report.step(`Checking what ${tree} will not reproduce of the root`, () => treeFidelity(ctx.rootDir, tree)) : undefined;
    const squashfsBytes = (await stat(sqfs)).size;
    const squashfsSha256 = await sha256File(sqfs);
    const sqfsPath = squashfsPath(squashfsSha256);
    const kmodsSha256 = kmods ? await sha256File(kmods.file) : undefined;
    const kmodsPath = kmodsSha256 ? modulesLayerPath(kmodsSha256) : '';
    // Slots (issue 16) only where the root lives on the stick: a network root is updated on its server.
    const slots = lower.kind === 'local';
    const buildId = epoch === undefined ? randomBytes(8).toString('hex') : squashfsSha256.slice(0, 16);
    const serial = stableId(epoch === undefined ? undefined : `serial:${o.label}:${squashfsSha256}`);
    const uuid = `${(serial >>> 16).toString(16).padStart(4, '0')}-${(serial & 0xffff).toString(16).padStart(4, '0')}`.toUpperCase();

    const channel: ChannelStage | undefined =
      o.channel && o.trust ? { name: o.channel, trustKey: o.trust, builtAt: epoch ?? Math.floor(Date.now() / 1000), floorPath: CHANNEL_FLOOR_PATH, offlineCopy: Boolean(o.offlineCopy) } : undefined;
    const copyBytes = net && o.offlineCopy ? copyAreaBytes(o.offlineCopy.bytes, net.bytes) : undefined;
    const netFiles = { ...o, channel, s3Credentials: ctx.s3Credentials };
    let netLayer: NetLayer | undefined;
    const layerBuild: LayerBuild = { work: ctx.work, compressor: o.comp, epoch: epoch ?? FAT_EPOCH_MIN, built: (l) => (netLayer = l) };
    const initramfs = await report.step(`Building the initramfs for ${kernel.version}`, () =>
      buildInitramfs({
        modulesDir: kernel.modulesDir,
        compressor: o.initrdComp,
        imageCompressor: o.comp,
        epoch: epoch ?? Math.floor(Date.now() / 1000),
        defaults: {
          label: o.label,
          uuid: '',
          // A channel stick knows the directory; the manifest names the image at each boot.
          lower: lower.kind === 'local' ? 'local' : channel ? lower.url : (net?.url ?? lower.url),
          sqfs: sqfsPath,
          sqfsSha256: squashfsSha256,
          size: o.upperSize,
          toram: o.toram,
          verify: o.verify,
          onfail: o.onfail,
          debug: false,
          timeout: o.timeout,
          breakAt: '',
          init: o.init,
          kmods: kmodsPath,
          slotsFile: slots ? SLOT_STATE_PATH : '',
          confirmAfter: o.confirmAfter,
          persist: saves?.persist ?? [],
          saveAtShutdown: saves?.saveAtShutdown ?? false,
          saveEvery: saves?.saveEvery ?? 0,
        },
        hardware: ctx.hardware.modules,
        ...(ctx.hardware.withStick ? { driversOnStick: { hardware: ctx.hardware.withStick, out: join(ctx.work, 'stick-drivers.sqfs') } } : {}),
        ...networkInitramfsHooks(lower, net, netFiles, layerBuild),
      }),
    );
    const alternatives = await report.step('Sizing the other --hardware choices for the summary', () =>
      Promise.all(
        HARDWARE_KINDS.filter((k) => k !== o.hardware).map(async (choice) => {
          const other = await hardwareRequest(choice, lower.kind !== 'local');
          const hooks = networkInitramfsHooks(lower, net, netFiles);
          const m = await initramfsModules({ modulesDir: kernel.modulesDir, extraModuleGroups: hooks.extraModuleGroups, hardware: other.modules });
          return { choice, modules: m.files.length, bytes: m.totalBytes };
        }),
      ),
    );
    const cmdline = kernelCmdline(o);
    const release = o.release ?? buildId;
    const manifestBase = {
      flashroot: 1 as const,
      slot: 'a' as const,
      buildId,
      release,
      kernel: kernel.version,
      label: o.label,
      squashfs: { path: net ? net.url : sqfsPath, bytes: squashfsBytes, sha256: squashfsSha256, compressor: o.comp },
      ...(kmods ? { modulesLayer: { path: kmodsPath, bytes: kmods.bytes, dest: kmods.dest, sha256: kmodsSha256 } } : {}),
      ...(net && !channel ? { verity: { rootHash: net.verity.rootHash, dataBlocks: net.verity.dataBlocks } } : {}),
      ...(channel
        ? { channel: { name: channel.name, manifest: `${lower.kind === 'local' ? '' : lower.url}${manifestName(channel.name)}`, trustKey: ctx.trustKeyNumber, floor: CHANNEL_FLOOR_PATH, ...(copyBytes ? { offlineCopy: { partition: 2, bytes: copyBytes } } : {}) } }
        : {}),
      cmdline,
      defaults: { label: o.label, uuid, upperSize: o.upperSize, toram: o.toram, verify: o.verify, onfail: o.onfail, timeout: o.timeout, init: o.init },
      ...(saves ? { saves: { partition: 2, bytes: saves.bytes, persist: saves.persist, saveAtShutdown: saves.saveAtShutdown, saveEveryMinutes: saves.saveEvery } } : {}),
      boot: o.boot,
      ...(ctx.uefiLoader ? { uefiLoader: ctx.uefiLoader } : {}),
      ...(epoch === undefined ? { builtAt: new Date().toISOString() } : { sourceDateEpoch: epoch }),
    };
    const kernelBytes = await readFile(kernel.image);
    // The slot's files with their sha256, for the slot manifest: what update compares and inspect shows.
    const slotFiles: SlotFile[] = [];
    const slotFile = (path: string, role: SlotFileRole, bytes: number, sha256: string) => slotFiles.push({ path, role, bytes, sha256 });
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const files: ImageFile[] = [
      // A network root stays off the stick: the stick carries only what boots and finds it.
      ...(lower.kind === 'local' ? [{ path: sqfsPath, content: { hostPath: sqfs } }] : []),
      ...(kmods ? [{ path: kmodsPath, content: { hostPath: kmods.file } }] : []),
      ...(initramfs.stickDrivers ? [{ path: initramfs.stickDrivers.path, content: { hostPath: initramfs.stickDrivers.file } }] : []),
      // Version 0: the first manifest the stick meets sets it; the init rewrites this sector in place.
      ...(channel ? [{ path: CHANNEL_FLOOR_PATH, content: renderFloor(channel.name, 0) }] : []),
    ];
    if (lower.kind === 'local') slotFile(sqfsPath, 'root', squashfsBytes, squashfsSha256);
    if (kmods && kmodsSha256) slotFile(kmodsPath, 'modules', kmods.bytes, kmodsSha256);
    if (initramfs.stickDrivers) slotFile(initramfs.stickDrivers.path, 'drivers', initramfs.stickDrivers.bytes, initramfs.stickDrivers.sha256);
    const bios = o.boot !== 'uefi';
    const menuName = o.demo ? 'flashroot demo' : 'flashroot';
    const menu = { name: menuName, cmdline, rescueCmdline: rescueCmdline(o), timeoutSeconds: o.menuTimeout };
    // syslinux and grub (the shim route) load the same two files.
    if (bios || ctx.uefiLoader === 'shim') {
      files.push({ path: kernelPath('a'), content: kernelBytes }, { path: initrdPath('a'), content: initramfs.data });
      slotFile(kernelPath('a'), 'kernel', kernelBytes.length, sha(kernelBytes));
      slotFile(initrdPath('a'), 'initrd', initramfs.data.length, sha(initramfs.data));
    }
    if (bios) {
      for (const f of await syslinuxFatFiles(menu)) files.push({ path: f.path, content: f.data });
    }
    if (ctx.uefiLoader === 'shim') {
      const esp = await report.step("Adding Debian's signed shim and grub (Secure Boot with stock keys)", () => shimFiles(menu));
      for (const f of esp) files.push({ path: f.path, content: f.data });
    }
    if (ctx.uefiLoader === 'systemd-boot') {
      const esp = await report.step('Assembling the Unified Kernel Images and systemd-boot', async () => {
        const blobs = await readBootBlobs();
        let espFiles: EspFile[] = systemdBootFiles({ ...blobs, kernel: kernelBytes, initrd: initramfs.data, uname: kernel.version, cmdline, timeoutSec: o.menuTimeout, entries: slotMenu('a', menuName, rescueCmdline(o)) });
        if (o.signKey && o.signCert) espFiles = await signEspFiles(espFiles, { key: o.signKey, cert: o.signCert }, epoch);
        return espFiles;
      });
      for (const f of esp) files.push({ path: f.path, content: f.data });
      for (const [i, e] of slotMenu('a').entries()) {
        const uki = esp.find((f) => f.path === ukiPath(e.id));
        if (uki) slotFile(uki.path, i === 0 ? 'uki' : 'uki-rescue', uki.data.length, sha(uki.data));
      }
    }
    const slot: SlotManifest = { ...manifestBase, files: slotFiles };
    // The manifest last of the slot's files, the state after it: as flashroot update writes them.
    files.push({ path: slotManifestPath('a'), content: Buffer.from(`${JSON.stringify(slot, null, 2)}\n`) });
    if (slots) files.push({ path: SLOT_STATE_PATH, content: renderState({ current: 'a', tries: 0, of: 0 }) });
    const out = resolve(o.out);
    const image = await report.step(`Writing the stick image ${o.out}`, async () =>
      assembleImage({
        out,
        files,
        label: o.label,
        serial,
        diskSignature: stableId(epoch === undefined ? undefined : `disk:${o.label}:${squashfsSha256}`),
        size: o.size,
        // Room for a second slot: everything the slot holds once more.
        updateRoomBytes: o.roomForUpdate ? slotFiles.reduce((n, f) => n + f.bytes, 0) : 0,
        savesBytes: saves?.bytes,
        copyBytes,
        epoch,
        mbrBootCode: bios ? await syslinuxMbrCode() : undefined,
        finish: bios ? (partial, offset) => installSyslinux(partial, offset, epoch) : undefined,
      }),
    );
    const result: BuildResult = {
      image: out,
      imageBytes: image.size,
      squashfsBytes,
      squashfsSha256,
      squashfsPath: sqfsPath,
      slot,
      initramfs: { bytes: initramfs.data.length, uncompressedBytes: initramfs.uncompressedBytes, parts: initramfs.parts, modules: initramfs.modules.files.length },
      hardware: {
        choice: o.hardware,
        describe: ctx.hardware.describe,
        modules: initramfs.modules.files.length,
        bytes: initramfs.modules.totalBytes,
        alternatives,
        ...(initramfs.stickDrivers ? { onStick: { path: initramfs.stickDrivers.path, bytes: initramfs.stickDrivers.bytes, modules: initramfs.stickDrivers.modules, moduleBytes: initramfs.stickDrivers.moduleBytes } } : {}),
      },
      kernel: { image: kernel.image, version: kernel.version, modulesDir: kernel.modulesDir, why: kernel.why },
      rootModules: kmods
        ? { from: 'layer', path: kmodsPath, dest: kmods.dest, bytes: kmods.bytes, modules: kmods.modules }
        : ctx.modulesLayer
          ? { from: 'none', why: `the root has no modules for ${kernel.version}, and a network lower carries no modules layer` }
          : { from: 'root', dir: `/lib/modules/${kernel.version}` },
      boot: o.boot,
      ...(ctx.uefiLoader ? { uefiLoader: ctx.uefiLoader } : {}),
      ...(ctx.kernelSigner ? { kernelSigner: ctx.kernelSigner } : {}),
      signed: Boolean(o.signKey),
      ...(net ? { network: { url: net.url, path: net.path, bytes: net.bytes, sha256: net.sha256, rootHash: net.verity.rootHash } } : {}),
      ...(netLayer ? { netLayer: { bytes: netLayer.bytes, clientBytes: netLayer.clientBytes } } : {}),
      ...(channel && lower.kind !== 'local'
        ? {
            channel: {
              name: channel.name,
              manifestUrl: `${lower.url}${manifestName(channel.name)}`,
              trustKey: channel.trustKey,
              keyNumber: ctx.trustKeyNumber ?? '',
              ...(image.copy ? { offlineCopy: { ...image.copy, slotBytes: copyLayout(image.copy.bytes).slotBytes, maxImageBytes: maxCopyImage(copyLayout(image.copy.bytes)) } } : {}),
            },
          }
        : {}),
      ...(fidelity ? { fidelity } : {}),
      adjustments: plan.adjustments,
      ...(saves && image.saves ? { saves: { ...image.saves, persist: saves.persist, saveAtShutdown: saves.saveAtShutdown, saveEveryMinutes: saves.saveEvery } } : {}),
      buildId,
      cmdline,
      timings: report.timings.map((t) => ({ step: t.name, ms: Math.round(t.ms) })),
    };
    printSummary(report, result, o);
    return result;
  } finally {
    await rm(ctx.work, { recursive: true, force: true });
    ctx.release();
  }
}

/** How the root reaches a file-level lower's server: the stick does not carry it. */
const TREE_SOURCE: Record<TreeBackend, (lower: string) => string> = {
  sshfs: () => 'the server must hold this root: rsync -aHAX it there',
  s3fs: (lower) => `publish this root there: flashroot publish ROOT ${lower} --endpoint <S3 endpoint>`,
};

function printSummary(report: Reporter, r: BuildResult, o: BuildOptions): void {
  const total = r.timings.reduce((s, t) => s + t.ms, 0);
  const tree: TreeBackend = o.lower.startsWith('s3fs://') ? 's3fs' : 'sshfs';
  const p = r.initramfs.parts;
  report.info(
    [
      '',
      `Built ${r.image} (${formatBytes(r.imageBytes)}, sparse) in ${formatMs(total)}`,
      `  boot:       ${[r.boot === 'uefi' ? '' : 'BIOS (syslinux)', r.uefiLoader ? `UEFI (${r.uefiLoader === 'shim' ? 'shim, grub' : 'systemd-boot, UKI'})` : ''].filter(Boolean).join(' + ')}`,
      `  secure boot: ${secureBootSummary(r)}`,
      `  kernel:     ${r.kernel.version} (${r.kernel.image}; ${r.kernel.why})`,
      `  modules:    ${modulesLine(r)}`,
      `  root:       ${formatBytes(r.squashfsBytes)} squashfs, sha256 ${r.squashfsSha256.slice(0, 16)}…`,
      ...formatAdjustments(r.adjustments),
      ...(r.network && r.channel
        ? [
            `  lower:      channel ${r.channel.name}: ${r.channel.manifestUrl}, signed by key ${r.channel.keyNumber} (${r.channel.trustKey}); the manifest names the image and its root hash at each boot`,
            `  publish:    flashroot publish ${r.network.path} ${o.lower.startsWith('s3://') ? `${o.lower} --endpoint <S3 endpoint>` : '--to <web root of that directory>'} --channel ${r.channel.name} --sign-key <its .sec>`,
            ...(r.channel.offlineCopy
              ? [
                  `  offline:    partition 2, ${formatBytes(r.channel.offlineCopy.bytes)}: two copy slots for images up to ${formatBytes(r.channel.offlineCopy.maxImageBytes)} (this one is ${formatBytes(r.network.bytes)}); each new version booted from the server is copied once, in the background, and booted when the server cannot be reached`,
                ]
              : []),
          ]
        : []),
      ...(r.network && !r.channel
        ? [
            `  lower:      ${r.network.url} (dm-verity root hash ${r.network.rootHash.slice(0, 16)}… baked in)`,
            o.lower.startsWith('s3://')
              ? `  publish:    flashroot publish ${r.network.path} ${o.lower.replace(/[^/]*$/, '')} --endpoint <S3 endpoint>  (${s3Access(o)})`
              : `  publish:    flashroot publish ${r.network.path} --to <web root serving ${r.network.url.replace(/[^/]*$/, '')}>`,
          ]
        : []),
      ...(r.fidelity ? [`  lower:      ${o.lower} (${tree}; ${TREE_SOURCE[tree](o.lower)})`, ...formatFidelity(r.fidelity, tree)] : []),
      `  initramfs:  ${formatBytes(r.initramfs.bytes)} ${o.initrdComp} (${formatBytes(r.initramfs.uncompressedBytes)} unpacked: busybox ${formatBytes(p.busybox)}, ${r.initramfs.modules} modules ${formatBytes(p.moduleFiles)} as a ${formatBytes(p.modules)} squashfs, init ${formatBytes(p.init)}${
        r.netLayer ? `, the network client as a squashfs ${formatBytes(r.netLayer.bytes)} (${formatBytes(r.netLayer.clientBytes)} unpacked), mounted where it lies` : ''
      }${networkRuntimeBytes(r) ? `, network tools and the client's settings ${formatBytes(networkRuntimeBytes(r))}` : ''})`,
      `  hardware:   ${r.hardware.describe}: ${r.hardware.modules} modules (${formatBytes(r.hardware.bytes)})${
        r.hardware.onStick ? `, and ${r.hardware.onStick.modules} more (${formatBytes(r.hardware.onStick.moduleBytes)}) on the stick as ${r.hardware.onStick.path} (${formatBytes(r.hardware.onStick.bytes)}), read only for a NIC that needs one` : ''
      }${r.hardware.alternatives
        .map((a) => `; --hardware ${a.choice} would carry ${a.modules} (${formatBytes(a.bytes)})`)
        .join('')}`,
      ...(r.saves
        ? [
            `  saves:      ${r.saves.persist.join(' ')} kept across reboots: partition 2, ${formatBytes(r.saves.bytes)} at ${formatBytes(r.saves.start)} (three generations); flashroot-save in the booted system, ${[
              r.saves.saveAtShutdown ? 'at shutdown' : '',
              r.saves.saveEveryMinutes > 0 ? `every ${r.saves.saveEveryMinutes} min when something changed` : '',
            ]
              .filter(Boolean)
              .join(' and ') || 'on demand only'}; flashroot.fresh boots without them`,
          ]
        : []),
      `  RAM:        at least ${formatBytes(minimumRam(r))} to boot; writes to / go to RAM (tmpfs, up to ${o.upperSize} of RAM)`,
      `  try it:     flashroot try ${o.out}${r.boot === 'uefi' ? ' --uefi' : ''}`,
    ].join('\n'),
  );
}

function secureBootSummary(r: BuildResult): string {
  if (!r.uefiLoader) return 'n/a';
  if (r.uefiLoader === 'shim') {
    return r.kernelSigner
      ? `boots with stock keys: shim (Microsoft) checks grub (Debian), grub has shim check the kernel (${r.kernelSigner}); the initramfs and command line are not signed`
      : 'the kernel is unsigned: this stick boots only with Secure Boot off (use a Debian kernel, or --sign-key with your own enrolled key)';
  }
  return r.signed ? 'UKIs and systemd-boot signed with your key (enrol its certificate: docs/secure-boot.md)' : 'unsigned (use --sign-key/--sign-cert to sign)';
}

function modulesLine(r: BuildResult): string {
  const m = r.rootModules;
  if (m.from === 'root') return `the root's own, ${m.dir}`;
  if (m.from === 'none') return `none in the booted system: ${m.why}`;
  return `the root has none for ${r.kernel.version}: all ${m.modules} ride along as ${m.path} (${formatBytes(m.bytes)}), stacked under the root at ${m.dest}`;
}

/** What the bucket must allow the stick, which reads it as parseLower decides. */
function s3Access(o: BuildOptions): string {
  if (o.signedReads) return "the stick's key must be allowed to list the prefix and read the object";
  return 'the bucket must allow public reads';
}

/** What a network lower (an image, or a tree with its fidelity report) adds to the initramfs besides its client: dmsetup, the client's settings and keys. */
function networkRuntimeBytes(r: BuildResult): number {
  if (!r.network && !r.fidelity) return 0;
  const { busybox, modules, init } = r.initramfs.parts;
  return r.initramfs.uncompressedBytes - busybox - modules - init - (r.netLayer?.bytes ?? 0);
}

/**
 * Kernel + unpacked initramfs + a working margin for the kernel and the root's init; a network
 * lower's runtime template is copied to a tmpfs at boot, so it counts twice until switch_root
 * (the network layer is mounted where it lies, and counts once).
 */
function minimumRam(r: BuildResult): number {
  return r.initramfs.uncompressedBytes + networkRuntimeBytes(r) + 160 * 1024 * 1024;
}
