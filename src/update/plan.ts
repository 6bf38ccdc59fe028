/**
 * What an update writes and removes (pure): the new system goes into the slot that is not current,
 * under the names that slot's loader entries use (kernel, initramfs, UKIs) or under its content's
 * name (root, modules layer). A file the stick already holds with the same content for either slot
 * is not written again; a file no slot will name afterwards is removed, never one of the current
 * slot's.
 */
import { FlashrootError } from '../errors.js';
import { initrdPath, kernelPath, otherSlot, SLOT_FILE_DIRS, SLOT_STATE_PATH, slotManifestPath, ukiId, ukiPath, type SlotId } from '../stick/paths.js';
import type { SlotFile, SlotFileRole, SlotManifest, SlotState } from '../stick/slots.js';

/** A file of the new system, as the source image has it. */
export interface NewFile {
  role: SlotFileRole;
  /** Its name in the source (content-addressed roles keep it). */
  path: string;
  bytes: number;
  sha256: string;
}

export interface UpdatePlan {
  current: SlotId;
  target: SlotId;
  /** The target slot's files after the update (its manifest's list). */
  files: SlotFile[];
  /** Of those, the ones to write. */
  write: SlotFile[];
  /** Files to remove before writing (the target slot's old ones nobody keeps, and strays). */
  remove: { path: string; bytes: number }[];
  /** Bytes the new files take on the FAT, rounded up to clusters, and what removing frees. */
  needBytes: number;
  freedBytes: number;
}

/** Where a file of the new system goes in slot `slot`. */
export function targetPath(f: NewFile, slot: SlotId): string {
  switch (f.role) {
    case 'kernel':
      return kernelPath(slot);
    case 'initrd':
      return initrdPath(slot);
    case 'uki':
      return ukiPath(ukiId(slot));
    case 'uki-rescue':
      return ukiPath(ukiId(slot, true));
    case 'root':
    case 'modules':
    case 'drivers':
      return f.path;
  }
}

const roundUp = (n: number, c: number) => Math.ceil(n / c) * c;
const lower = (p: string) => p.toLowerCase();

export function planUpdate(o: {
  state: SlotState;
  manifests: Partial<Record<SlotId, SlotManifest>>;
  /** Every file on the stick (path and size). */
  stickFiles: readonly { path: string; size: number }[];
  newFiles: readonly NewFile[];
  cluster: number;
}): UpdatePlan {
  const current = o.state.current;
  const target = otherSlot(current);
  const cur = o.manifests[current];
  if (!cur) throw new FlashrootError('ESLOTS', `the current slot ${current} has no manifest (${slotManifestPath(current)})`, { hint: 'the stick is not in a state to update: write it again with flashroot write' });
  const known = new Map<string, SlotFile>();
  // What is on the stick and complete: files listed by a manifest (written before it).
  for (const m of [o.manifests[target], cur]) for (const f of m?.files ?? []) known.set(lower(f.path), f);
  const files: SlotFile[] = o.newFiles.map((f) => ({ path: targetPath(f, target), role: f.role, bytes: f.bytes, sha256: f.sha256 }));
  const write = files.filter((f) => known.get(lower(f.path))?.sha256 !== f.sha256);
  const clash = write.find((f) => cur.files.some((c) => lower(c.path) === lower(f.path)));
  // Never reached with the names paths.ts gives; the guard is what keeps the fallback intact.
  if (clash) throw new FlashrootError('ESLOTS', `the update would write over ${clash.path}, a file of the current slot ${current}`, { hint: 'report this as a bug' });
  // Everything else in the slot directories goes: the target's old files that are not reused
  // (its manifest first of all, written again last), and strays of an update cut short.
  const keep = new Set([...cur.files.map((f) => lower(f.path)), lower(SLOT_STATE_PATH), lower(slotManifestPath(current))]);
  const reused = new Set(files.filter((f) => !write.includes(f)).map((f) => lower(f.path)));
  const inSlotDirs = (p: string) => SLOT_FILE_DIRS.some((d) => lower(p).startsWith(`${lower(d)}/`));
  const remove = o.stickFiles
    .filter((f) => inSlotDirs(f.path) && !keep.has(lower(f.path)) && !reused.has(lower(f.path)))
    .map((f) => ({ path: f.path, bytes: f.size }));
  const manifestRoom = o.cluster;
  return {
    current,
    target,
    files,
    write,
    remove,
    needBytes: write.reduce((n, f) => n + roundUp(f.bytes, o.cluster), 0) + manifestRoom,
    freedBytes: remove.reduce((n, f) => n + roundUp(f.bytes, o.cluster), 0),
  };
}
