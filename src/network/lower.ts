/**
 * What `--lower` names: the squashfs on the stick (local), an image on a server (read over http by
 * httpfs2, https by nbdkit's curl plugin, or from an S3 bucket: public-read as a web object, a
 * private bucket by nbdkit with flashroot's S3 reader, which has libcurl sign each read), or a directory tree on an SSH server (sshfs, file-level: see
 * fidelity.ts for what it loses) or in a bucket (s3fs, file-level too).
 * Network images are content-addressed: their file name carries the sha256 of their bytes, so a
 * published object is never replaced by a different one under the same name (lazily read ranges
 * would otherwise mix two versions).
 */
import { objectUrl, parseS3Url } from './s3.js';

/**
 * How the init reads an image: the client and what it speaks. httpfs2 (FUSE, plain HTTP, ~1 MB)
 * waits while a server stalls and resumes when it answers; nbdkit's curl plugin (a block device
 * through the kernel's NBD client, a 9 MiB layer with libcurl) speaks TLS and turns a stalled server
 * into I/O errors within about a minute (10 s per request); nbdkit-s3 is the same with a Perl plugin
 * (overlays/network/s3-reader.pl) whose reads libcurl signs (SigV4); rclone (FUSE, one 54 MB Go
 * binary) speaks TLS and turns a stalled server into I/O errors within 1-3 minutes.
 */
export type ImageTransport = 'httpfs2' | 'rclone-http' | 'nbdkit' | 'nbdkit-s3';

/** The client for http:// images (https:// and signed S3 reads always use nbdkit). */
export const HTTP_CLIENTS = ['httpfs2', 'rclone'] as const;
export type HttpClient = (typeof HTTP_CLIENTS)[number];

/** The build options that decide how an image lower is read. */
export interface LowerReadOptions {
  endpoint?: string;
  signedReads?: boolean;
  httpClient?: HttpClient;
}

/** Where an S3 image is read from at boot, and whether the reads are signed (a private bucket). */
export interface S3Reader {
  endpoint: string;
  signed: boolean;
}

export type LowerSpec =
  | { kind: 'local' }
  | { kind: 'image'; transport: Exclude<ImageTransport, 'nbdkit-s3'>; url: string }
  | { kind: 'image'; transport: 'nbdkit-s3'; url: string; s3: S3Reader }
  | { kind: 'sshfs'; url: string }
  | { kind: 's3fs'; url: string };

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
 * An s3:// lower in a public-read bucket is read as a plain web object (as http:// or https://);
 * a private bucket needs signed reads (nbdkit-s3: libcurl signs each ranged GET of the object).
 */
export function parseLower(value: string, { endpoint, signedReads = false, httpClient = 'httpfs2' }: LowerReadOptions = {}): LowerSpec {
  const web = (url: string): LowerSpec => ({ kind: 'image', transport: url.startsWith('https://') ? 'nbdkit' : httpClient === 'rclone' ? 'rclone-http' : 'httpfs2', url });
  if (value === 'local') return { kind: 'local' };
  if (value.startsWith('sshfs://')) return { kind: 'sshfs', url: value };
  if (value.startsWith('s3fs://')) return { kind: 's3fs', url: value };
  if (value.startsWith('s3://') && endpoint) {
    if (signedReads) return { kind: 'image', transport: 'nbdkit-s3', url: value, s3: { endpoint, signed: signedReads } };
    const [, bucket = '', key = ''] = /^s3:\/\/([^/]+)\/(.*)$/.exec(value) ?? [];
    return web(`${objectUrl(endpoint, bucket, key).href}${key === '' ? '/' : ''}`);
  }
  return web(value);
}

/** The URL the init fetches: a URL ending in '/' is a directory and gets the content-addressed name. */
export function imageUrl(spec: { url: string }, sha256: string): string {
  return spec.url.endsWith('/') ? `${spec.url}${imageName(sha256)}` : spec.url;
}
