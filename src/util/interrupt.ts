/**
 * Leaves nothing behind on Ctrl-C: paths registered here (a build's work directory, a half-written
 * image) are removed before the process exits with 130. Node's default SIGINT exit skips `finally`.
 */
import { rmSync } from 'node:fs';

const paths = new Set<string>();

function onInterrupt(signal: NodeJS.Signals): void {
  for (const p of paths) rmSync(p, { recursive: true, force: true });
  process.stderr.write(`\nflashroot: interrupted (${signal}); temporary files removed, no image written\n`);
  process.exit(130);
}

/** Removes `path` if the process is interrupted before the returned function is called. */
export function removeOnInterrupt(path: string): () => void {
  if (paths.size === 0) {
    process.once('SIGINT', onInterrupt);
    process.once('SIGTERM', onInterrupt);
  }
  paths.add(path);
  return () => {
    paths.delete(path);
    if (paths.size === 0) {
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onInterrupt);
    }
  };
}
