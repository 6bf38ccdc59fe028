/**
 * Compresses a root directory to squashfs with mksquashfs. Progress comes from its progress bar
 * ("[====] 120/4000  3%"), which it draws with carriage returns even when not on a TTY.
 */
import { run } from '../util/run.js';

export const COMPRESSORS = ['zstd', 'xz', 'gzip', 'lz4'] as const;
export type Compressor = (typeof COMPRESSORS)[number];

export interface SquashfsOptions {
  source: string;
  output: string;
  compressor: Compressor;
  /** Paths relative to source, shell wildcards allowed (mksquashfs -wildcards). */
  excludes: readonly string[];
  /** A -pf file of pseudo definitions (src/squashfs/pseudo.ts): what the squashfs holds beyond the source. */
  pseudoFile?: string;
  /** Fixed timestamps for reproducible images (SOURCE_DATE_EPOCH). */
  epoch?: number;
  /** Every file owned by root, whoever builds: for trees the build makes itself (the modules layer). */
  allRoot?: boolean;
  /** zstd or gzip level; mksquashfs's default zstd level (15) is ~50x slower than 3 for ~15% less. */
  level?: number;
  onProgress?: (percent: number) => void;
}

export function mksquashfsArgs(o: SquashfsOptions): string[] {
  const args = [o.source, o.output, '-noappend', '-comp', o.compressor, '-progress', '-no-recovery'];
  if (o.compressor === 'xz') args.push('-Xbcj', 'x86');
  if (o.allRoot) args.push('-all-root');
  if (o.level !== undefined && (o.compressor === 'zstd' || o.compressor === 'gzip')) args.push('-Xcompression-level', String(o.level));
  if (o.epoch !== undefined) args.push('-mkfs-time', String(o.epoch), '-all-time', String(o.epoch));
  if (o.pseudoFile) args.push('-pf', o.pseudoFile);
  // Everything after -e is read as an exclude, so it goes last.
  if (o.excludes.length) args.push('-wildcards', '-e', ...o.excludes);
  return args;
}

export async function makeSquashfs(o: SquashfsOptions): Promise<void> {
  let last = -1;
  await run('mksquashfs', mksquashfsArgs(o), {
    // mksquashfs refuses SOURCE_DATE_EPOCH together with the explicit times we pass.
    env: { SOURCE_DATE_EPOCH: undefined },
    onStdoutLine: (line) => {
      const m = /\]\s+\d+\/\d+\s+(\d+)%/.exec(line);
      const pct = m ? Number(m[1]) : -1;
      if (pct >= 0 && pct !== last) {
        last = pct;
        o.onProgress?.(pct);
      }
    },
  });
}
