/** flashroot's per-user cache (XDG_CACHE_HOME or ~/.cache, then flashroot/): things a build can make or fetch again. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(what: string, env = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'flashroot', what);
}
