/**
 * What a file-level lower (sshfs) will not reproduce of a root tree, found before the stick is
 * built, so nobody learns it from a broken boot. An image lower (http) keeps everything: the
 * squashfs carries its own metadata.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { VOLATILE_DIRS } from '../root/capture.js';

export interface FidelityLoss {
  what: string;
  count: number;
  examples: string[];
}

const MAX_EXAMPLES = 3;

/** SFTP (version 3, what sshfs speaks) carries no link count, no xattrs and no device creation. */
const SSHFS_RULES: { what: string; test: (st: Awaited<ReturnType<typeof lstat>>) => boolean }[] = [
  { what: 'hard links: each name shows up as its own file with a link count of 1', test: (st) => st.isFile() && st.nlink > 1 },
  {
    what: "device nodes, FIFOs and sockets: opened through SFTP they are the server's own, not this machine's",
    test: (st) => st.isBlockDevice() || st.isCharacterDevice() || st.isFIFO() || st.isSocket(),
  },
];

export async function sshfsFidelity(root: string): Promise<FidelityLoss[]> {
  const losses = SSHFS_RULES.map((r) => ({ what: r.what, count: 0, examples: [] as string[] }));
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = `${rel}/${name}`;
      // Emptied at capture and mounted over at boot: what they hold never reaches the lower.
      if (rel === '' && (VOLATILE_DIRS as readonly string[]).includes(name)) continue;
      const st = await lstat(join(dir, name));
      SSHFS_RULES.forEach((rule, i) => {
        const loss = losses[i];
        if (!loss || !rule.test(st)) return;
        loss.count++;
        if (loss.examples.length < MAX_EXAMPLES) loss.examples.push(path);
      });
      if (st.isDirectory()) await walk(join(dir, name), path);
    }
  };
  await walk(root, '');
  return losses.filter((l) => l.count > 0);
}

export function formatFidelity(losses: readonly FidelityLoss[]): string[] {
  const always = '  sshfs also drops extended attributes (ACLs, file capabilities) and shows inode numbers of its own';
  if (losses.length === 0) return ['  fidelity:   nothing in this tree that sshfs loses', always];
  return [
    '  fidelity:   sshfs will not reproduce (an image lower, --lower http://…, keeps all of it):',
    ...losses.map((l) => `    - ${l.count} × ${l.what} (e.g. ${l.examples.join(', ')})`),
    always,
  ];
}
