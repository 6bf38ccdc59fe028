/**
 * A cpio "newc" archive writer, the format the kernel unpacks into its initial rootfs.
 * Entries are sorted and carry fixed owners and times, so the same inputs give the same bytes.
 * No device nodes: the kernel creates /dev/console itself on devtmpfs.
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const TRAILER = 'TRAILER!!!';

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): number {
  return (4 - (len % 4)) % 4;
}

function normalise(path: string): string {
  const p = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!p || p.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new Error(`invalid cpio path: '${path}'`);
  }
  return p;
}

/** Adds the parent directories an archive needs, and rejects two different entries at one path. */
function withParents(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = normalise(e.path);
    const existing = byPath.get(path);
    if (existing && !(existing.kind === 'dir' && e.kind === 'dir')) {
      throw new Error(`duplicate cpio entry: '${path}'`);
    }
    byPath.set(path, { ...e, path });
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!byPath.has(parent)) byPath.set(parent, { kind: 'dir', path: parent });
    }
  }
  // Parents sort before children because a prefix sorts first.
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function writeCpio(entries: readonly CpioEntry[], mtime = 0): Buffer {
  const chunks: Buffer[] = [];
  let ino = 1;
  const header = (name: string, mode: number, size: number, nlink: number) => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const fields = [
      '070701',
      hex8(name === TRAILER ? 0 : ino++),
      hex8(mode),
      hex8(0), // uid: root
      hex8(0), // gid: root
      hex8(nlink),
      hex8(mtime),
      hex8(size),
      hex8(0), hex8(0), hex8(0), hex8(0), // dev and rdev major/minor
      hex8(nameBytes.length),
      hex8(0), // checksum (unused by newc)
    ].join('');
    chunks.push(Buffer.from(fields, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)));
  };
  const body = (data: Uint8Array) => {
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.byteLength)));
  };
  for (const e of withParents(entries)) {
    if (e.kind === 'dir') {
      header(e.path, S_IFDIR | (e.mode ?? 0o755), 0, 2);
    } else if (e.kind === 'file') {
      header(e.path, S_IFREG | (e.mode ?? 0o644), e.data.byteLength, 1);
      body(e.data);
    } else {
      const target = Buffer.from(e.target, 'utf8');
      header(e.path, S_IFLNK | 0o777, target.length, 1);
      body(target);
    }
  }
  header(TRAILER, 0, 0, 1);
  return Buffer.concat(chunks);
}
