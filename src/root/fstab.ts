/**
 * /etc/fstab and /etc/crypttab as the stick carries them. The booted system has none of the disks
 * its root was installed on: systemd waits 90 s for each device an entry names and then drops to
 * emergency mode. So entries naming local block devices (and swap, and the root itself, which is
 * the stick's overlay now) are commented out with a reason line; network filesystems, tmpfs, bind
 * mounts and the kernel's pseudo filesystems stay, so an NFS media share keeps mounting.
 * Pure text in, text out: the source's files are never touched.
 */

/** Undoes fstab's octal escapes (\040 space, \011 tab, \134 backslash, \012 newline), as getmntent does. */
export function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Tags util-linux resolves through /dev/disk/by-*: each names a block device. */
const DEVICE_TAGS = /^(UUID|LABEL|PARTUUID|PARTLABEL|ID)=/i;

/** A spec that names a local block device: a tag, or a path under /dev (which includes /dev/mapper, /dev/disk/by-*). */
export function namesLocalDevice(spec: string): boolean {
  return DEVICE_TAGS.test(spec) || spec.startsWith('/dev/');
}

export interface FstabEntry {
  spec: string;
  file: string;
  vfstype: string;
  options: string[];
}

/** Fields of a non-comment line, unescaped; undefined for blank, comment or malformed lines. */
export function parseFstabLine(line: string): FstabEntry | undefined {
  const fields = line.trim().split(/[ \t]+/);
  if (!fields[0] || fields[0].startsWith('#') || fields.length < 3) return undefined;
  const [spec, file, vfstype, options = 'defaults'] = fields.map(unescapeField) as [string, string, string, string?];
  return { spec, file, vfstype, options: options.split(',') };
}

/** Why an entry is commented out on the stick, or undefined when it stays. */
export function fstabVerdict(e: FstabEntry): string | undefined {
  if (e.vfstype === 'swap') {
    return namesLocalDevice(e.spec)
      ? `swap on a local disk (${e.spec}) the booted system does not have; systemd would wait 90 s for it`
      : `swap file ${e.spec}: left out of the stick, since swap cannot live on its read-only root`;
  }
  if (e.options.includes('bind') || e.options.includes('rbind')) return undefined;
  if (e.file === '/') return 'the root is the stick’s overlay (squashfs + tmpfs), not this device';
  if (namesLocalDevice(e.spec)) return `names a local disk (${e.spec}) the booted system does not have; systemd would wait 90 s for it, then stop in emergency mode`;
  return undefined;
}

export interface NeutralisedEntry {
  /** The original line, as it was. */
  line: string;
  why: string;
}

export interface RewrittenTable {
  text: string;
  neutralised: NeutralisedEntry[];
}

const MARK = '# flashroot:';

function rewrite(text: string, verdict: (line: string) => string | undefined): RewrittenTable {
  const neutralised: NeutralisedEntry[] = [];
  const lines = text.split('\n').flatMap((line) => {
    const why = verdict(line);
    if (!why) return [line];
    neutralised.push({ line, why });
    return [`${MARK} ${why}`, `#${line}`];
  });
  return { text: lines.join('\n'), neutralised };
}

export function rewriteFstab(text: string): RewrittenTable {
  return rewrite(text, (line) => {
    const entry = parseFstabLine(line);
    return entry && fstabVerdict(entry);
  });
}

/**
 * crypttab: `name device keyfile options`. Every volume on a local disk is one the booted system
 * cannot open (systemd-cryptsetup would wait for the device); a container file inside the root stays.
 */
export function rewriteCrypttab(text: string): RewrittenTable {
  return rewrite(text, (line) => {
    const fields = line.trim().split(/[ \t]+/);
    if (!fields[0] || fields[0].startsWith('#') || fields.length < 2) return undefined;
    const device = unescapeField(fields[1] ?? '');
    return namesLocalDevice(device) ? `encrypted volume on a local disk (${device}) the booted system does not have` : undefined;
  });
}

/** Swap files an fstab names (swap entries whose spec is a path, not a device), as absolute paths inside the root. */
export function swapFilesInFstab(text: string): string[] {
  return text
    .split('\n')
    .map(parseFstabLine)
    .filter((e): e is FstabEntry => e?.vfstype === 'swap' && e.spec.startsWith('/') && !namesLocalDevice(e.spec))
    .map((e) => e.spec);
}

/** Swap files in use, from /proc/swaps (`Filename Type Size Used Priority`, names escaped like fstab's). */
export function swapFilesInProcSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/[ \t]+/))
    .filter((f) => f[1] === 'file' && f[0])
    .map((f) => unescapeField(f[0] ?? ''));
}
