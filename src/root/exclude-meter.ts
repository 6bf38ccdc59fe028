/**
 * Finds what exclude patterns match in a root and how many bytes that leaves out, so every rule
 * can be reported with what it saved. Each path is counted once, by the first rule that claims
 * it, and each inode once (hard links). Only the directories a pattern names are read: measuring
 * `var/cache/apt/archives/*.deb` on a running `/` does not walk the whole disk.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { hasWildcard, literalOf, matchComponent, patternComponents } from './glob.js';

export interface Measured {
  /** Matched paths relative to the root, sorted. */
  paths: string[];
  /** Bytes of the files (and symlinks) below them: what the squashfs no longer holds, uncompressed. */
  bytes: number;
}

export class ExcludeMeter {
  private readonly claimed = new Set<string>();
  private readonly inodes = new Set<string>();

  /** `notCaptured`: directories (relative) whose contents are left out anyway: other mounts, /proc… */
  constructor(
    private readonly root: string,
    private readonly notCaptured: readonly string[] = [],
  ) {}

  async measure(patterns: readonly string[]): Promise<Measured> {
    const paths: string[] = [];
    for (const pattern of patterns) {
      for (const rel of await this.expand(patternComponents(pattern), '')) {
        if (this.isClaimed(rel)) continue;
        this.claimed.add(rel);
        paths.push(rel);
      }
    }
    let bytes = 0;
    for (const rel of paths) bytes += await this.sizeOf(rel);
    return { paths: paths.sort(), bytes };
  }

  private isClaimed(rel: string): boolean {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) if (this.claimed.has(parts.slice(0, i).join('/'))) return true;
    return this.notCaptured.some((dir) => rel.startsWith(`${dir}/`));
  }

  private async expand(components: readonly string[], dir: string): Promise<string[]> {
    const [head, ...rest] = components;
    if (head === undefined) return [];
    let names: string[];
    if (hasWildcard(head)) {
      names = (await readdir(join(this.root, dir)).catch(() => [] as string[])).filter((n) => matchComponent(head, n)).sort();
    } else {
      names = [literalOf(head)];
    }
    const found: string[] = [];
    for (const name of names) {
      const rel = dir ? `${dir}/${name}` : name;
      const st = await lstat(join(this.root, rel)).catch(() => undefined);
      if (!st) continue;
      if (rest.length === 0) found.push(rel);
      // mksquashfs never follows a symlink into a directory, so neither do the patterns.
      else if (st.isDirectory()) found.push(...(await this.expand(rest, rel)));
    }
    return found;
  }

  private async sizeOf(rel: string): Promise<number> {
    if (this.notCaptured.some((dir) => rel.startsWith(`${dir}/`))) return 0;
    const st = await lstat(join(this.root, rel), { bigint: true }).catch(() => undefined);
    if (!st) return 0;
    const inode = `${st.dev}:${st.ino}`;
    if (this.inodes.has(inode)) return 0;
    this.inodes.add(inode);
    if (!st.isDirectory()) return Number(st.size);
    let total = 0;
    for (const name of await readdir(join(this.root, rel)).catch(() => [] as string[])) total += await this.sizeOf(`${rel}/${name}`);
    return total;
  }
}
