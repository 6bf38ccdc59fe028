/**
 * What `--lower` names: the squashfs on the stick (local), an image on a web server (http, or
 * https read by rclone), or a directory tree on an SSH server or in a bucket (sshfs, s3fs: file-level,
 * see fidelity.ts for what they lose).
 * Network images are content-addressed: their file name carries the sha256 of their bytes, so a
 * published object is never replaced by a different one under the same name (lazily read ranges
 * would otherwise mix two versions).
 */
import { objectUrl, parseS3Url } from './s3.js';

export type LowerSpec = { kind: 'local' } | { kind: 'http'; url: string } | { kind: 'sshfs'; url: string } | { kind: 's3fs'; url: string };

export const IMAGE_NAME = /^root-([0-9a-f]{64})\.sqfs$/;

export function imageName(sha256: string): string {
  return `root-${sha256}.sqfs`;
}

/** Returns the problem with a --lower value, or undefined when it is usable. */
export function lowerProblem(value: string): string | undefined {
  if (value === 'local') return undefined;
  const scheme = /^([a-z0-9]+):\/\//.exec(value)?.[1];
  if (scheme === undefined) return `'${value}' is neither 'local' nor a URL like http://host/path/`;
  // An s3:// lower may name the image; an s3fs:// lower is a tree, always a prefix.
  if (scheme === 's3') return s3Problem(value.endsWith('/') ? value : value.replace(/[^/]*$/, ''), scheme);
  if (scheme === 's3fs') return s3Problem(value, scheme);
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'sshfs') return `unknown lower kind '${scheme}://' (supported: local, http://, https://, s3://, sshfs://, s3fs://)`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `'${value}' is not a valid URL`;
  }
  // The init splits the URL with shell patterns and hands it to the FUSE client verbatim.
  if (/[\s'"\\$`]/.test(value)) return `'${value}' contains characters the boot-time shell cannot pass on`;
  if (scheme === 'sshfs') {
    if (!url.username || url.password || !url.hostname || url.pathname.length < 2) return `'${value}' is not like sshfs://USER@HOST[:PORT]/PATH (key-based login: --ssh-key)`;
  } else if (url.username || url.password) {
    // The URL is on the kernel command line, which any user of the booted system can read.
    return `credentials in an ${scheme}:// URL would be readable by every user of the booted system; serve the image without authentication`;
  }
  if (url.search || url.hash) return `'${value}' has a query or fragment; give a plain path`;
  return undefined;
}

function s3Problem(value: string, scheme: 's3' | 's3fs'): string | undefined {
  try {
    parseS3Url(value, scheme);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * An s3:// lower is an object in a public-read bucket, read over plain HTTP path-style from the
 * endpoint (private buckets need signed reads at boot: not supported), so it boots as http.
 */
export function parseLower(value: string, endpoint?: string): LowerSpec {
  if (value === 'local') return { kind: 'local' };
  if (value.startsWith('sshfs://')) return { kind: 'sshfs', url: value };
  if (value.startsWith('s3fs://')) return { kind: 's3fs', url: value };
  if (value.startsWith('s3://') && endpoint) {
    const [, bucket = '', key = ''] = /^s3:\/\/([^/]+)\/(.*)$/.exec(value) ?? [];
    return { kind: 'http', url: `${objectUrl(endpoint, bucket, key).href}${key === '' ? '/' : ''}` };
  }
  return { kind: 'http', url: value };
}

/** The URL the init fetches: a URL ending in '/' is a directory and gets the content-addressed name. */
export function imageUrl(spec: { url: string }, sha256: string): string {
  return spec.url.endsWith('/') ? `${spec.url}${imageName(sha256)}` : spec.url;
}
