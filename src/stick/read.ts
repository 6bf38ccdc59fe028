/**
 * What a stick's FAT says about its slots: the state, each slot's manifest, and which slot each
 * loader boots by default. Read by inspect, update, slot and the endurance measurement.
 */
import type { FatVolume } from '../disk/fat.js';
import { SLOT_STATE_PATH, slotManifestPath, SLOTS, type SlotId } from './paths.js';
import { DEFAULT_LINES, defaultSlotOf, parseSlotManifest, parseState, type DefaultLine, type SlotManifest, type SlotState } from './slots.js';

export interface StickSlots {
  /** Undefined on a stick built before slots, or a network-lower stick. */
  state?: SlotState;
  /** Set when the state sector cannot be read: what is wrong with it. */
  stateProblem?: string;
  manifests: Partial<Record<SlotId, SlotManifest>>;
  /** Each loader config the stick has, and the slot its first line boots (undefined: not a slot line). */
  defaults: { line: DefaultLine; slot?: SlotId }[];
}

export function readSlots(fat: FatVolume): StickSlots {
  const out: StickSlots = { manifests: {}, defaults: [] };
  if (fat.exists(SLOT_STATE_PATH)) {
    try {
      out.state = parseState(fat.readFile(SLOT_STATE_PATH));
    } catch (e) {
      out.stateProblem = (e as Error).message;
    }
  }
  for (const s of SLOTS) {
    const p = slotManifestPath(s);
    if (!fat.exists(p)) continue;
    try {
      out.manifests[s] = parseSlotManifest(fat.readFile(p), p);
    } catch {
      // A manifest cut short names no complete slot: the slot counts as empty.
    }
  }
  for (const line of DEFAULT_LINES) {
    if (fat.exists(line.path)) out.defaults.push({ line, slot: defaultSlotOf(line, fat.readFile(line.path)) });
  }
  return out;
}

/** The root image of the slot the stick boots (its current slot, or slot a of a fresh build). */
export function currentRootPath(slots: StickSlots): string | undefined {
  const m = slots.manifests[slots.state?.current ?? 'a'];
  return m?.files.find((f) => f.role === 'root')?.path;
}
