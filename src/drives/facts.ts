/**
 * What flashroot knows about each drive, derived from one snapshot of the machine. Pure: the same
 * snapshot always gives the same facts, so recorded snapshots of real machines make table tests.
 *
 * drivelist names the drives and says which it thinks is the system disk, but on Linux it is a thin
 * layer over lsblk that leaves out loop devices, calls zram "removable" and cannot see what sits on
 * top of a disk (LVM, md, swap). The lsblk tree can: its children of a disk include partitions and
 * every dm/md device built on them, so "what uses this disk" is a walk down that tree.
 */

/** One entry of `drivelist.list()`, as far as flashroot reads it. */
export interface DrivelistDrive {
  device: string;
  raw: string;
  description: string;
  size: number | null;
  blockSize: number;
  logicalBlockSize: number;
  isReadOnly: boolean;
  isSystem: boolean;
  isVirtual: boolean | null;
  isRemovable: boolean | null;
  isCard: boolean | null;
  isUSB: boolean | null;
  busType: string;
  mountpoints: { path: string; label?: string | null }[];
}

/** One node of `lsblk --json --bytes --output-all` (only the columns read here). */
export interface LsblkNode {
  name: string;
  kname?: string;
  path?: string;
  type: string;
  size: number | string | null;
  rm: boolean | string | number;
  hotplug?: boolean | string | number;
  ro: boolean | string | number;
  tran?: string | null;
  model?: string | null;
  vendor?: string | null;
  serial?: string | null;
  fstype?: string | null;
  label?: string | null;
  subsystems?: string | null;
  mountpoint?: string | null;
  mountpoints?: (string | null)[];
  'log-sec'?: number;
  'phy-sec'?: number;
  children?: LsblkNode[];
}

/** Everything read from the machine in one go; recorded as JSON for tests and bug reports. */
export interface DriveSnapshot {
  drivelist: DrivelistDrive[];
  lsblk: { blockdevices: LsblkNode[] };
  /** Contents of /proc/swaps. */
  swaps: string;
  /** Contents of /proc/mdstat ('' when md is not in the kernel). */
  mdstat: string;
}

export interface DriveContent {
  path: string;
  type: string;
  fstype: string | null;
  label: string | null;
  size: number | null;
  mountpoints: string[];
}

export interface DriveFacts {
  path: string;
  name: string;
  /** lsblk's TYPE of the drive itself: disk, loop, raid1, … */
  type: string;
  model: string;
  serial: string | null;
  /** Bytes; null when there is no medium (an empty card reader) or the size is unknown. */
  size: number | null;
  bus: string;
  removable: boolean;
  hotplug: boolean;
  card: boolean;
  readOnly: boolean;
  virtual: boolean;
  /** drivelist's own judgement (it has platform knowledge we do not repeat). */
  system: boolean;
  /** Mount points of the drive and of everything built on it. */
  mountpoints: string[];
  /** Active swap areas on the drive or on anything built on it. */
  swaps: string[];
  /** Why the drive belongs to an array or volume group, if it does. */
  memberships: string[];
  /** Partitions and stacked devices, what is on them now. */
  contents: DriveContent[];
  logicalBlockSize: number;
  physicalBlockSize: number;
}

const MEMBER_FSTYPES: Record<string, string> = {
  linux_raid_member: 'md RAID member',
  LVM2_member: 'LVM physical volume',
  zfs_member: 'ZFS pool member',
  ddf_raid_member: 'DDF RAID member',
  isw_raid_member: 'Intel RAID member',
  bcache: 'bcache backing device',
};

const VIRTUAL_TYPES = new Set(['loop', 'ram', 'zram', 'nbd']);

function flag(v: boolean | string | number | undefined): boolean {
  return v === true || v === 1 || v === '1' || v === 'true';
}

function numberOrNull(v: number | string | null | undefined): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : null;
}

function mountsOf(node: LsblkNode): string[] {
  const all = [...(node.mountpoints ?? []), node.mountpoint ?? null];
  return [...new Set(all.filter((m): m is string => typeof m === 'string' && m !== ''))];
}

function pathOf(node: LsblkNode): string {
  return node.path ?? (node.name.startsWith('/') ? node.name : `/dev/${node.name}`);
}

function descendants(node: LsblkNode): LsblkNode[] {
  return (node.children ?? []).flatMap((c) => [c, ...descendants(c)]);
}

/** Device paths listed as active in /proc/swaps (files are ignored: they live on a mounted fs). */
export function parseSwaps(procSwaps: string): string[] {
  return procSwaps
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[1] === 'partition' && cols[0])
    .map((cols) => cols[0] as string);
}

/** md arrays and their member kernel names, from /proc/mdstat (`md0 : active raid1 sdb1[1] sda1[0]`). */
export function parseMdstat(mdstat: string): Map<string, string[]> {
  const arrays = new Map<string, string[]>();
  for (const line of mdstat.split('\n')) {
    const m = /^(md\w*)\s*:\s*\S+\s+(.*)$/.exec(line);
    if (!m?.[1] || !m[2]) continue;
    const members = [...m[2].matchAll(/(\S+?)\[\d+\]/g)].map((x) => x[1] as string);
    arrays.set(m[1], members);
  }
  return arrays;
}

function memberships(root: LsblkNode, nodes: LsblkNode[], md: Map<string, string[]>): string[] {
  const reasons = new Set<string>();
  if (/^(raid|md)/.test(root.type)) reasons.add(`is itself a ${root.type} array`);
  for (const n of nodes) {
    const what = n.fstype ? MEMBER_FSTYPES[n.fstype] : undefined;
    if (what) reasons.add(`${pathOf(n)} is a ${what}`);
    if (n !== root && /^(raid\d*|md|lvm|dm|crypt|mpath)/.test(n.type)) reasons.add(`${pathOf(n)} (${n.type}) is built on it`);
  }
  const knames = new Set(nodes.map((n) => n.kname ?? n.name.replace(/^\/dev\//, '')));
  for (const [array, members] of md) {
    for (const m of members) if (knames.has(m)) reasons.add(`${m} is a member of /dev/${array} (/proc/mdstat)`);
  }
  return [...reasons];
}

function busOf(node: LsblkNode, dl: DrivelistDrive | undefined): string {
  if (node.tran) return node.tran;
  if (VIRTUAL_TYPES.has(node.type) || node.name.replace(/^\/dev\//, '').startsWith('zram')) return 'virtual';
  const subs = node.subsystems ?? '';
  for (const bus of ['nvme', 'mmc', 'usb', 'virtio', 'scsi']) if (subs.includes(bus)) return bus;
  if (dl && dl.busType !== 'UNKNOWN') return dl.busType.toLowerCase();
  return 'unknown';
}

function factsOf(node: LsblkNode, dl: DrivelistDrive | undefined, swaps: string[], md: Map<string, string[]>): DriveFacts {
  const nodes = [node, ...descendants(node)];
  const name = node.name.replace(/^\/dev\//, '');
  const subsystems = node.subsystems ?? '';
  const model = [node.vendor, node.model].map((s) => s?.trim()).filter(Boolean).join(' ') || dl?.description || '';
  return {
    path: pathOf(node),
    name,
    type: node.type,
    model,
    serial: node.serial?.trim() || null,
    size: numberOrNull(node.size) ?? (dl ? numberOrNull(dl.size) : null),
    bus: busOf(node, dl),
    removable: flag(node.rm),
    hotplug: flag(node.hotplug),
    card: subsystems.includes('mmc') || dl?.isCard === true,
    readOnly: flag(node.ro) || dl?.isReadOnly === true,
    // zram and loop have no parent device in sysfs: lsblk reports their subsystems as just "block".
    virtual: VIRTUAL_TYPES.has(node.type) || name.startsWith('zram') || subsystems === 'block',
    system: dl?.isSystem === true,
    mountpoints: [...new Set(nodes.flatMap(mountsOf))].filter((m) => m !== '[SWAP]'),
    swaps: nodes.map(pathOf).filter((p) => swaps.includes(p)),
    memberships: memberships(node, nodes, md),
    contents: nodes.slice(1).map((n) => ({
      path: pathOf(n),
      type: n.type,
      fstype: n.fstype ?? null,
      label: n.label ?? null,
      size: numberOrNull(n.size),
      mountpoints: mountsOf(n),
    })),
    logicalBlockSize: node['log-sec'] ?? dl?.logicalBlockSize ?? 512,
    physicalBlockSize: node['phy-sec'] ?? dl?.blockSize ?? 512,
  };
}

/**
 * Every whole drive: the ones drivelist lists, plus those it leaves out (loop devices), so that
 * `--allow-virtual` has something to allow. Partitions are not drives.
 */
export function describeDrives(snapshot: DriveSnapshot): DriveFacts[] {
  const swaps = parseSwaps(snapshot.swaps);
  const md = parseMdstat(snapshot.mdstat);
  const byPath = new Map(snapshot.drivelist.map((d) => [d.device, d]));
  return snapshot.lsblk.blockdevices
    .filter((n) => n.type !== 'part' && n.type !== 'rom')
    .map((n) => factsOf(n, byPath.get(pathOf(n)), swaps, md));
}
