/**
 * What a file-level lower (sshfs, s3fs) will not reproduce of a root tree, found before the stick
 * is built or the tree published, so nobody learns it from a broken boot. An image lower (http,
 * s3) keeps everything: the squashfs carries its own metadata. One walk, rules per backend.
 */
import type { BigIntStats } from 'node:fs';
import { walkRoot } from '../root/walk.js';

export type TreeBackend = 'sshfs' | 's3fs';

export interface FidelityLoss {
  what: string;
  count: number;
  examples: string[];
}

interface Rule {
  what: string;
  test: (st: BigIntStats) => boolean;
}

const MAX_EXAMPLES = 3;

const isHardLink = (st: BigIntStats): boolean => st.isFile() && st.nlink > 1n;
const isDevice = (st: BigIntStats): boolean => st.isBlockDevice() || st.isCharacterDevice();

/**
 * sshfs: SFTP (version 3) carries no link count, no xattrs and no device creation.
 * s3fs 1.90 (checked by mounting uploads with the real s3fs): one object per name, no device
 * numbers (a node comes back as 0,0), no xattrs without use_xattr; FIFOs work (the kernel makes
 * the pipe), symlinks, owners, setuid/setgid modes and nanosecond mtimes survive.
 */
const RULES: Record<TreeBackend, Rule[]> = {
  sshfs: [
    { what: 'hard links: each name shows up as its own file with a link count of 1', test: isHardLink },
    {
      what: "device nodes, FIFOs and sockets: opened through SFTP they are the server's own, not this machine's",
      test: (st) => isDevice(st) || st.isFIFO() || st.isSocket(),
    },
  ],
  s3fs: [
    { what: 'hard links: each name is its own object (uploaded once per name), with a link count of 1', test: isHardLink },
    {
      what: 'device nodes: s3fs keeps no device numbers (a node reads as 0,0, and overlayfs takes a character device 0,0 for a deleted file); publish leaves them out',
      test: isDevice,
    },
    { what: 'sockets: meaningless without the process that bound them; publish leaves them out', test: (st) => st.isSocket() },
  ],
};

/** What both drop of every tree, whatever it holds (Node cannot list xattrs to count them). */
const always = (backend: TreeBackend): string => `  ${backend} also drops extended attributes (ACLs, file capabilities) and shows inode numbers of its own`;

export async function treeFidelity(root: string, backend: TreeBackend): Promise<FidelityLoss[]> {
  const rules = RULES[backend];
  const losses = rules.map((r) => ({ what: r.what, count: 0, examples: [] as string[] }));
  for await (const { path, st } of walkRoot(root)) {
    rules.forEach((rule, i) => {
      const loss = losses[i];
      if (!loss || !rule.test(st)) return;
      loss.count++;
      if (loss.examples.length < MAX_EXAMPLES) loss.examples.push(path);
    });
  }
  return losses.filter((l) => l.count > 0);
}

export function formatFidelity(losses: readonly FidelityLoss[], backend: TreeBackend): string[] {
  if (losses.length === 0) return [`  fidelity:   nothing in this tree that ${backend} loses`, always(backend)];
  return [
    `  fidelity:   ${backend} will not reproduce (an image lower, --lower http://… or s3://…, keeps all of it):`,
    ...losses.map((l) => `    - ${l.count} × ${l.what} (e.g. ${l.examples.join(', ')})`),
    always(backend),
  ];
}
