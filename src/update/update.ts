/**
 * `flashroot update --drive DEV (IMAGE | --root DIR | --demo)`: puts a new system in the stick's
 * other slot beside the running one, and only once it is all written and synced makes it the one
 * to boot, on trial (docs/update.md has the order and what a power cut at each point leaves).
 *   1. the stick boots the current slot, with no trial pending (rewritten only if it did not);
 *   2. the other slot's manifest, then its old files nobody keeps, are removed;
 *   3. the new files are written (only those the stick does not hold already), each fsynced;
 *   4. the slot's manifest is written: from here the slot is complete;
 *   5. the state: trial = the new slot, with its tries (one sector, in place);
 *   6. each loader's default line → the new slot (one sector each, in place).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlashrootError, InputError, UsageError } from '../errors.js';
import { sectionData, parsePe } from '../boot/pe.js';
import { buildUki, UKI_STUB } from '../boot/uki.js';
import { FatVolume } from '../disk/fat.js';
import { SECTOR } from '../disk/mbr.js';
import { probeStickImage } from '../disk/probe.js';
import { mapImage } from '../drives/image-map.js';
import { slotManifestPath, SLOT_STATE_PATH, type SlotId } from '../stick/paths.js';
import { readSlots, type StickSlots } from '../stick/read.js';
import { DEFAULT_TRIES, defaultLine, IMAGE_ROLES, MAX_TRIES, renderState, type SlotFileRole, type SlotManifest, type SlotState } from '../stick/slots.js';
import { formatBytes, formatMs, Reporter } from '../util/log.js';
import { sha256File } from '../util/hash.js';
import { preflight } from '../util/tools.js';
import { planUpdate, type NewFile, type UpdatePlan } from './plan.js';
import { openTarget, type OpenTarget, type TargetOptions } from './target.js';

export interface UpdateOptions extends TargetOptions {
  image?: string;
  root?: string;
  demo?: boolean;
  kernel?: string;
  modules?: string;
  release?: string;
  confirmAfter?: string;
  exclude?: string[];
  tries?: string;
  json?: boolean;
}

export interface UpdateResult {
  drive: string;
  current: SlotId;
  target: SlotId;
  release: string;
  tries: number;
  written: { path: string; bytes: number }[];
  /** Bytes of the files written. */
  bytesWritten: number;
  /** Sectors written to the stick in all, FAT and directories included. */
  sectorsWritten: number;
  /** Write calls to the stick (what a fault-injecting test counts). */
  writeCalls: number;
  /** What `flashroot write` of the new image would write. */
  fullWriteBytes: number;
  removed: string[];
  ms: number;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A file of the new system and where its bytes come from. */
interface Source extends NewFile {
  /** Read only for the files the update writes (a root or modules layer can be large). */
  content: () => Buffer | { hostPath: string };
}

/** Reads the new system's slot (its manifest and files) out of a built image. */
async function readSource(image: string, target: SlotId, work: string): Promise<{ manifest: SlotManifest; files: Source[]; fullWriteBytes: number; close: () => void }> {
  const { fat: part } = await probeStickImage(image);
  const fat = await FatVolume.mount(image, part.startLba * SECTOR, part.sectors * SECTOR);
  try {
    const slots = readSlots(fat);
    const manifest = slots.manifests[slots.state?.current ?? 'a'];
    if (!manifest) throw new InputError(image, `${image} has no slot manifest`, 'give an image built by this flashroot (flashroot build), or --root DIR');
    const files: Source[] = [];
    for (const f of manifest.files) {
      if (IMAGE_ROLES.includes(f.role)) {
        const hostPath = join(work, `${f.role}.sqfs`);
        files.push({
          ...f,
          content: () => {
            fat.copyOut(f.path, hostPath);
            return { hostPath };
          },
        });
      } else if (f.role === 'uki' || f.role === 'uki-rescue') {
        // Rebuilt now: its sha256 for slot b is not the source's.
        const data = await ukiForSlot(fat.readFile(f.path), manifest.slot, target, f.path);
        files.push({ ...f, bytes: data.length, sha256: sha(data), content: () => data });
      } else {
        files.push({ ...f, content: () => fat.readFile(f.path) });
      }
    }
    return { manifest, files, fullWriteBytes: (await mapImage(image, 4096)).mappedBytes, close: () => fat.close() };
  } catch (e) {
    fat.close();
    throw e;
  }
}

/** A UKI names its slot on its own command line: rebuilt from its sections for the target slot. */
async function ukiForSlot(uki: Buffer, from: SlotId, to: SlotId, path: string): Promise<Buffer> {
  if (from === to) return uki;
  if (parsePe(uki).certificateTableSize > 0) {
    throw new UsageError(`${path} is signed: moving it to slot ${to} changes its command line and would need your key`, 'signed UKIs are not updated in place yet: write the stick again (flashroot write)');
  }
  const part = (name: string) => sectionData(uki, name);
  const [kernel, initrd, osrel, cmdline] = [part('.linux'), part('.initrd'), part('.osrel'), part('.cmdline')];
  if (!kernel || !initrd || !osrel || !cmdline) throw new InputError(path, `${path} is not a UKI flashroot made`, 'rebuild the image with flashroot build');
  await preflight([], [UKI_STUB]);
  const uname = part('.uname')?.toString('utf8').replace(/\0+$/, '');
  return buildUki({
    stub: await readFile(UKI_STUB.path),
    kernel,
    initrd,
    cmdline: cmdline.toString('utf8').replace(/\0+$/, '').replace(`flashroot.slot=${from}`, `flashroot.slot=${to}`),
    osRelease: osrel.toString('utf8').replace(`, slot ${from}`, `, slot ${to}`),
    ...(uname ? { uname } : {}),
  });
}

/** Builds the new system with the stick's own settings (label, boot routes) into a work image. */
async function buildSource(o: UpdateOptions, current: SlotManifest, work: string, report: Reporter): Promise<string> {
  const { build } = await import('../pipeline/build.js');
  const out = join(work, 'update.img');
  await build(
    {
      ...(o.root ? { root: o.root } : { demo: true }),
      out,
      label: current.label ?? 'FLASHROOT',
      ...(current.boot ? { boot: current.boot } : {}),
      ...(current.uefiLoader ? { uefiLoader: current.uefiLoader } : {}),
      ...(o.kernel ? { kernel: o.kernel } : {}),
      ...(o.modules ? { modules: o.modules } : {}),
      ...(o.release ? { release: o.release } : {}),
      ...(o.confirmAfter ? { confirmAfter: Number(o.confirmAfter) } : {}),
      exclude: o.exclude ?? [],
      menuTimeout: 0,
      json: o.json,
    },
    report,
  );
  return out;
}

function checkSlots(t: OpenTarget, slots: StickSlots): { state: SlotState; current: SlotManifest } {
  if (slots.stateProblem) throw new FlashrootError('ESLOTS', `${t.path}: ${slots.stateProblem}`, { hint: `set it again: flashroot slot --drive ${t.path} a|b`, exitCode: 3 });
  if (!slots.state) {
    throw new InputError(t.path, `${t.path} has no slots (${SLOT_STATE_PATH}): it was built before flashroot update, or boots a network root`, 'write it once more with flashroot write (build --room-for-update leaves room for updates)');
  }
  const current = slots.manifests[slots.state.current];
  if (!current) throw new InputError(t.path, `${t.path}: the current slot ${slots.state.current} has no manifest`, 'write the stick again with flashroot write');
  return { state: slots.state, current };
}

/** Every loader the stick boots by must find its files in the new system. */
function checkRoutes(t: OpenTarget, slots: StickSlots, manifest: SlotManifest, current: SlotManifest, report: Reporter): void {
  const has = (r: SlotFileRole) => manifest.files.some((f) => f.role === r);
  const problems: string[] = [];
  for (const d of slots.defaults) {
    if (d.line.loader === 'systemd-boot' ? !has('uki') : !has('kernel') || !has('initrd')) problems.push(`${d.line.loader}: the new image has no ${d.line.loader === 'systemd-boot' ? 'UKI' : 'kernel and initramfs'} for it`);
  }
  if (!has('root')) problems.push('the new image has no root image on it (a network lower?)');
  if (manifest.label !== undefined && current.label !== undefined && manifest.label !== current.label) {
    problems.push(`the new image finds its stick by label ${manifest.label}, this stick is ${current.label}: build it with --label ${current.label}`);
  }
  if (problems.length) throw new UsageError(`Cannot update ${t.path} with this image:\n- ${problems.join('\n- ')}`, 'build the new image with the same --boot and --uefi-loader as the stick (flashroot update --root DIR does)');
  if (manifest.cmdline !== current.cmdline && slots.defaults.some((d) => d.line.loader !== 'systemd-boot')) {
    report.info(`note: syslinux and grub entries keep the stick's kernel command line (${current.cmdline}); the new image's (${manifest.cmdline}) applies to UKIs only`);
  }
}

function checkRoom(t: OpenTarget, plan: UpdatePlan, free: number): void {
  const available = free + plan.freedBytes;
  if (plan.needBytes <= available) return;
  const short = plan.needBytes - available;
  throw new FlashrootError(
    'ENOROOM',
    `${t.path} has no room for the new system beside the current one: it needs ${formatBytes(plan.needBytes)} in slot ${plan.target}, the FAT has ${formatBytes(free)} free` +
      `${plan.freedBytes ? ` and removing slot ${plan.target}'s old files frees ${formatBytes(plan.freedBytes)}` : ''} (${formatBytes(short)} short); nothing was written`,
    { hint: 'rebuild with flashroot build --room-for-update (or a larger --size) and flashroot write it once; the updates after that fit', exitCode: 3 },
  );
}

/** Makes every loader boot `slot` (the first line of each config, rewritten in place). */
export function pointDefaults(fat: FatVolume, slots: StickSlots, slot: SlotId): void {
  for (const d of slots.defaults) {
    if (d.slot === undefined) throw new FlashrootError('ESLOTS', `${d.line.path} does not start with a slot default line`, { hint: 'write the stick again with flashroot write' });
    if (d.slot !== slot) fat.overwrite(d.line.path, Buffer.from(defaultLine(d.line, slot), 'ascii'));
  }
}

export function writeState(fat: FatVolume, s: SlotState): void {
  fat.overwrite(SLOT_STATE_PATH, renderState(s));
}

export async function runUpdate(o: UpdateOptions, report = new Reporter(o.json === true)): Promise<UpdateResult> {
  const started = performance.now();
  if (Boolean(o.image) === Boolean(o.root ?? o.demo)) throw new UsageError('give the new system: an IMAGE built by flashroot build, or --root DIR (or --demo)');
  const tries = o.tries === undefined ? DEFAULT_TRIES : Number(o.tries);
  if (!Number.isInteger(tries) || tries < 1 || tries > MAX_TRIES) throw new UsageError(`--tries ${o.tries}: give a whole number of boots from 1 to ${MAX_TRIES}`);
  const work = await mkdtemp(join(tmpdir(), 'flashroot-update-'));
  let t: OpenTarget | undefined;
  let closeSource: (() => void) | undefined;
  try {
    t = await report.step(`Opening ${o.drive}`, () => openTarget(o, 'update'));
    const tt = t;
    const slots = readSlots(tt.fat);
    const { state, current } = checkSlots(tt, slots);
    const image = o.image ?? (await report.step('Building the new system with the stick\'s settings', () => buildSource(o, current, work, report)));
    const target = state.current === 'a' ? 'b' : 'a';
    const src = await report.step(`Reading the new system from ${image}`, () => readSource(image, target, work));
    closeSource = src.close;
    checkRoutes(tt, slots, src.manifest, current, report);
    const stickFiles = tt.fat.list().filter((f) => !f.directory);
    const { bytes: free, cluster } = tt.fat.free();
    const plan = planUpdate({ state, manifests: slots.manifests, stickFiles, newFiles: src.files, cluster });
    checkRoom(tt, plan, free);
    const release = o.release ?? src.manifest.release;
    const manifest: SlotManifest = { ...src.manifest, slot: target, release, files: plan.files };
    // 1. The stick boots the current slot, with no trial pending, before its other slot is touched.
    if (state.trial !== undefined || slots.defaults.some((d) => d.slot !== state.current)) {
      await report.step(`Making slot ${state.current} the one to boot before touching slot ${target}`, () => {
        writeState(tt.fat, { current: state.current, tries: 0, of: 0 });
        pointDefaults(tt.fat, slots, state.current);
        return Promise.resolve();
      });
    }
    // 2. The target's manifest first: from here on nothing names its old files.
    await report.step(`Removing slot ${target}'s old files (${plan.remove.length})`, () => {
      tt.fat.unlink(slotManifestPath(target));
      for (const f of plan.remove) tt.fat.unlink(f.path);
      return Promise.resolve();
    });
    // 3. Only what the stick does not hold already.
    const byPath = new Map(src.files.map((f) => [f.role, f]));
    for (const f of plan.write) {
      const s = byPath.get(f.role);
      if (!s) throw new Error(`no source for ${f.role}`);
      await report.step(`Writing ${f.path} (${formatBytes(f.bytes)})`, async () => {
        const content = s.content();
        const got = 'hostPath' in content ? await sha256File(content.hostPath) : sha(content);
        if (got !== f.sha256) throw new FlashrootError('EUPDATE', `${f.path} in ${image} does not match its manifest's sha256`, { hint: 'rebuild the image' });
        await tt.fat.writeFile(f.path, content);
      });
    }
    // 4-6. The commit.
    await report.step(`Committing: slot ${target} complete, on trial for ${tries} boot${tries > 1 ? 's' : ''}, the default of every loader`, async () => {
      await tt.fat.writeFile(slotManifestPath(target), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
      writeState(tt.fat, { current: state.current, trial: target, tries, of: tries });
      pointDefaults(tt.fat, readSlots(tt.fat), target);
    });
    const written = plan.write.map((f) => ({ path: f.path, bytes: f.bytes }));
    const result: UpdateResult = {
      drive: tt.path,
      current: state.current,
      target,
      release,
      tries,
      written,
      bytesWritten: written.reduce((n, f) => n + f.bytes, 0),
      sectorsWritten: tt.fat.sectorsWritten,
      writeCalls: tt.fat.writeCalls,
      fullWriteBytes: src.fullWriteBytes,
      removed: plan.remove.map((f) => f.path),
      ms: Math.round(performance.now() - started),
    };
    report.info(
      [
        `Updated ${tt.path} in ${formatMs(result.ms)}: slot ${target} holds ${release}, on trial for the next ${tries} boot${tries > 1 ? 's' : ''}; slot ${state.current} (${current.release}) stays the fallback.`,
        `  wrote ${formatBytes(result.sectorsWritten * SECTOR)} (${written.length} file${written.length === 1 ? '' : 's'}: ${written.map((f) => `${f.path} ${formatBytes(f.bytes)}`).join(', ') || 'none, the stick had them all'}), against ${formatBytes(result.fullWriteBytes)} for flashroot write of the whole image`,
        `  unchanged, not written: ${plan.files.filter((f) => !plan.write.includes(f)).map((f) => f.path).join(', ') || 'nothing'}`,
        '  the new system confirms it came up by itself (flashroot-confirm); if it does not, the stick goes back to the fallback.',
      ].join('\n'),
    );
    return result;
  } finally {
    closeSource?.();
    t?.fat.close();
    await rm(work, { recursive: true, force: true });
  }
}

export interface SlotOptions extends TargetOptions {
  json?: boolean;
}

/** `flashroot slot --drive DEV a|b`: makes a slot the current one and every loader's default. */
export async function runSlot(slot: SlotId, o: SlotOptions, report = new Reporter(o.json === true)): Promise<SlotState> {
  const t = await openTarget(o, 'change the slot of');
  try {
    const slots = readSlots(t.fat);
    if (!slots.state && !slots.stateProblem) throw new InputError(t.path, `${t.path} has no slots (${SLOT_STATE_PATH})`, 'write it again with flashroot write');
    if (!slots.manifests[slot]) throw new UsageError(`slot ${slot} of ${t.path} is empty (no ${slotManifestPath(slot)})`, 'put a system there with flashroot update');
    const state: SlotState = { current: slot, tries: 0, of: 0 };
    writeState(t.fat, state);
    pointDefaults(t.fat, slots, slot);
    report.info(`${t.path}: slot ${slot} (${slots.manifests[slot]?.release}) is current and boots by default; no slot is on trial.`);
    return state;
  } finally {
    t.fat.close();
  }
}
