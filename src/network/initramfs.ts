/**
 * What a networked lower adds to the initramfs: the DHCP script, dmsetup (run before switch_root,
 * for an image lower) and a runtime root template: what the client reads besides its binaries (for
 * sshfs, ssh's key; for https and S3, the CA bundle it trusts (and for signed S3 the key, as curl's
 * config); for s3fs, its
 * passwd file when reads are signed). The init stacks the template over the client's binaries
 * from the network layer (net-layer.ts, a squashfs in the initramfs) in a tmpfs under /run and runs
 * the client chrooted there: switch_root deletes the initramfs, and a daemon whose own files
 * vanished cannot reconnect (or SIGBUSes).
 */
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, readlink, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlashrootError, InputError, ToolMissingError, UsageError } from '../errors.js';
import { elfClosure } from '../initramfs/elf.js';
import { shellQuote } from '../initramfs/init-script.js';
import { run } from '../util/run.js';
import { findOnPath, toolInfo } from '../util/tools.js';
import type { S3Credentials } from './s3.js';
import { copyShellDefaults } from '../stick/channel-copy.js';
import { SECTORS_PER_BLOCK, VERITY_TABLE_TEMPLATE, verityTable, type VerityInfo } from './verity.js';

/** Where the runtime root template sits in the initramfs (the init copies it to /run/flashroot/rt). */
const RUNTIME_TEMPLATE = 'usr/lib/flashroot/rt';
const NETWORK_CONF = 'etc/flashroot/network.conf';
const UDHCPC_SCRIPT = fileURLToPath(new URL('../../overlays/network/udhcpc.sh', import.meta.url));

/** Tools run in the initramfs itself, before switch_root: dmsetup maps an image lower. */
const INITRAMFS_TOOLS = ['dmsetup'] as const;

/** An image lower (checked by dm-verity), not a tree lower (sshfs, s3fs: the server's files as they are). */
export function isImageLower(kind: NetworkLowerStage['kind']): boolean {
  return kind !== 'sshfs' && kind !== 's3fs';
}

const initramfsTools = (kind: NetworkLowerStage['kind']): readonly string[] => (isImageLower(kind) ? INITRAMFS_TOOLS : []);
/**
 * The client of each kind (and what it runs), run from the runtime root for the life of the
 * system. nbdkit (https) serves the image to the kernel's NBD client (nbd-client attaches it);
 * curl fetches a channel's manifest and says why a server cannot be reached. nbdkit-s3 is the same
 * with nbdkit's Perl plugin running flashroot's S3 reader (its Perl modules staged by
 * stageS3Reader). rclone (http when chosen: httpfs2 speaks plain HTTP only) mounts through
 * fusermount3.
 */
const LOWER_CLIENT = {
  httpfs2: ['httpfs2'],
  'rclone-http': ['rclone', 'fusermount3'],
  nbdkit: ['nbdkit', 'nbd-client', 'curl'],
  'nbdkit-s3': ['nbdkit', 'nbd-client', 'curl'],
  sshfs: ['sshfs', 'ssh'],
  s3fs: ['s3fs'],
} as const;
/** nbdkit's plugin for http(s) URLs, and the one that runs the S3 reader, in nbdkit's plugin directory (`nbdkit --dump-config`). */
const NBDKIT_PLUGIN = { nbdkit: 'nbdkit-curl-plugin.so', 'nbdkit-s3': 'nbdkit-perl-plugin.so' } as const;
/** The S3 reader (a Perl script for nbdkit's Perl plugin), and where the runtime root has it. */
const S3_READER = fileURLToPath(new URL('../../overlays/network/s3-reader.pl', import.meta.url));
const S3_READER_PATH = 'usr/lib/flashroot/s3-reader.pl';
/** Where the https and S3 clients find the only CA certificates they trust, inside the runtime root. */
const CA_FILE = 'etc/flashroot/ca.pem';
/** The key of a private bucket, as a curl config file (-K): the S3 reader and curl read it. */
const S3_CURLRC = 'etc/flashroot/s3.curlrc';
/** Go's default bundle path on Debian: what a build without --ca-cert trusts. */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Host tools a build with this network lower needs. */
export function networkTools(kind: NetworkLowerStage['kind'], channel = false): string[] {
  return [...initramfsTools(kind), ...(channel ? [CHANNEL_VERIFIER] : []), ...LOWER_CLIENT[kind]];
}

/** The client of `kind` with its libraries, copied into the network layer's runtime root at `dir`. */
export async function stageLowerClient(kind: NetworkLowerStage['kind'], dir: string): Promise<void> {
  const binaries = await Promise.all(LOWER_CLIENT[kind].map(resolveTool));
  if (kind === 'nbdkit') await copyElfClosure([...binaries, await nbdkitPlugin(kind)], dir);
  else if (kind === 'nbdkit-s3') await stageS3Reader(binaries, dir);
  else await copyElfClosure(binaries, dir);
  // rclone 1.60 runs `fusermount` from PATH; fuse3 ships it only as fusermount3.
  if (kind === 'rclone-http') await symlink('fusermount3', join(dir, 'usr/bin/fusermount'));
}

/** nbdkit's plugin for `kind`, at the path nbdkit was built to load it from (the runtime root keeps that path). */
async function nbdkitPlugin(kind: keyof typeof NBDKIT_PLUGIN): Promise<string> {
  const { stdout } = await run(await resolveTool('nbdkit'), ['--dump-config']);
  const dir = /^plugindir=(.+)$/m.exec(stdout)?.[1];
  const plugin = dir && join(dir, NBDKIT_PLUGIN[kind]);
  const tool = kind === 'nbdkit' ? 'nbdkit' : 'nbdkit-plugin-perl';
  if (!plugin || !(await stat(plugin).catch(() => undefined))) throw new ToolMissingError(NBDKIT_PLUGIN[kind], toolInfo(tool).why, toolInfo(tool).apt);
  return plugin;
}

/**
 * The S3 reader with what nbdkit's Perl plugin loads for it: the modules it uses and their XS
 * libraries, as the plugin itself finds them (the perl command's @INC differs: Debian's perl-base
 * directory is not in libperl's), with the ELF closure of those and of `binaries`.
 */
async function stageS3Reader(binaries: string[], dir: string): Promise<void> {
  const lister = join(dir, '..', 'list-s3-reader-modules.pl');
  await writeFile(lister, `do ${JSON.stringify(S3_READER)}; die $@ if $@; print "flashroot-module=$_\\n" for values(%INC), @DynaLoader::dl_shared_objects;\n`);
  const { stdout } = await run(await resolveTool('nbdkit'), ['--dump-plugin', 'perl', `script=${lister}`]).catch((e: Error) => {
    throw new ToolMissingError('WWW::Curl', `${toolInfo('libwww-curl-perl').why} (nbdkit: ${e.message.split('\n').at(-1) ?? ''})`, toolInfo('libwww-curl-perl').apt);
  });
  await rm(lister);
  const files = [...stdout.matchAll(/^flashroot-module=(\/.+)$/gm)].map((m) => m[1] ?? '');
  await copyElfClosure([...binaries, await nbdkitPlugin('nbdkit-s3'), ...files.filter((f) => f.endsWith('.so'))], dir);
  for (const f of files.filter((f) => f.endsWith('.pm'))) {
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await copyFile(f, join(dir, f), constants.COPYFILE_EXCL);
  }
  await mkdir(dirname(join(dir, S3_READER_PATH)), { recursive: true });
  await copyFile(S3_READER, join(dir, S3_READER_PATH));
}

/**
 * How a stick trusts its image: a root hash baked in (`verity`), or a signed channel whose
 * manifest names the image and its root hash at each boot (46-channel.sh).
 */
export type ImageTrust = { verity: VerityInfo; channel?: undefined } | { verity?: undefined; channel: ChannelStage };

export interface ChannelStage {
  name: string;
  /** The signify public key file (--trust) the manifest must be signed with. */
  trustKey: string;
  /** Unix time of the build: a clock before it is unknown time at boot. */
  builtAt: number;
  /** Where the rollback floor sits on the stick's FAT. */
  floorPath: string;
  /** build --offline-copy: the stick keeps a copy of the last verified version (src/stick/channel-copy.ts). */
  offlineCopy?: boolean;
}

export type NetworkLowerStage =
  | ({ kind: 'httpfs2' } & ImageTrust)
  | ({ kind: 'rclone-http'; caCert?: string } & ImageTrust)
  | ({ kind: 'nbdkit'; caCert?: string } & ImageTrust)
  | ({ kind: 'nbdkit-s3'; caCert?: string; endpoint: string; credentials?: S3Credentials } & ImageTrust)
  | { kind: 'sshfs'; sshKey: string; knownHosts?: string }
  | { kind: 's3fs'; endpoint: string; caCert?: string; credentials?: S3Credentials };
/** What the channel step reads (46-channel.sh), in the initramfs itself: it runs before switch_root. */
const CHANNEL_CONF = 'etc/flashroot/channel.conf';
const CHANNEL_KEY = 'etc/flashroot/channel.pub';
/** The verifier: signify (Ed25519), 0.3 MB with libbsd and libmd beside dmsetup's glibc (minisign 0.4 MB, openssl 6.4 MB). */
const CHANNEL_VERIFIER = 'signify-openbsd';
/** Where the sshfs lower's key and host keys sit inside the runtime root. */
const SSH_DIR = 'etc/flashroot/ssh';
/** Where s3fs finds the key it signs reads with (--signed-reads), inside the runtime root. */
const S3FS_PASSWD = 'etc/flashroot/s3fs.passwd';

async function resolveTool(tool: string): Promise<string> {
  const path = await findOnPath(tool);
  if (!path) throw new ToolMissingError(tool, toolInfo(tool).why, toolInfo(tool).apt);
  return path;
}

/**
 * Copies binaries and their libraries into root, symlinks as symlinks. A file is never copied over
 * anything (an applet symlink would be written through to the host's busybox).
 */
async function copyElfClosure(binaries: readonly string[], root: string): Promise<void> {
  const merged: string[] = [];
  for (const path of (await elfClosure(binaries)).files) {
    const dest = join(root, path);
    const st = await lstat(path);
    await mkdir(dirname(dest), { recursive: true });
    if (st.isSymbolicLink()) {
      const existing = await lstat(dest).catch(() => undefined);
      if (existing?.isDirectory()) merged.push(path);
      else if (!existing) await symlink(await readlink(path), dest);
      continue;
    }
    await copyFile(path, dest, constants.COPYFILE_EXCL).catch((e: NodeJS.ErrnoException) => {
      throw new FlashrootError('ESTAGE', `cannot stage ${path} into the initramfs: ${e.code ?? e.message}`, { hint: 'another part of the initramfs already provides this path; report this as a bug', cause: e });
    });
  }
  // A directory symlink of the host (/lib -> usr/lib) that is a real directory here (/lib holds the
  // modules): link what the closure put in its target into it, so the interpreter path resolves.
  for (const path of merged) {
    const target = await realpath(path);
    for (const name of await readdir(join(root, target)).catch(() => [])) {
      const dest = join(root, path, name);
      if (!(await lstat(dest).catch(() => undefined))) await symlink(posix.join(target, name), dest);
    }
  }
}

function networkVars(s: NetworkLowerStage): [string, string][] {
  switch (s.kind) {
    case 'sshfs':
      return [['FR_NET_SSH_STRICT', s.knownHosts ? 'yes' : 'no']];
    case 's3fs':
      return [
        ['FR_NET_S3_URL', s.endpoint],
        // s3fs signs for this region; anonymous reads (public_bucket=1) are not signed at all.
        ['FR_NET_S3_AUTH', s.credentials ? `passwd_file=/${S3FS_PASSWD},endpoint=${s.credentials.region}` : 'public_bucket=1'],
      ];
    default:
      return [
        // With a channel, the size and the table come from its manifest at each boot.
        ...(s.verity
          ? ([
              // The size tells a truncated image from a damaged one before dm-verity is asked.
              ['FR_NET_BYTES', String(s.verity.imageBytes)],
              // @DEV@ is the loop device, known only at boot; the data and the hash tree share it.
              ['FR_NET_VERITY', verityTable(s.verity, '@DEV@')],
            ] as [string, string][])
          : []),
        // Which client reads the image (http:// has a choice: httpfs2 or rclone-http).
        ['FR_NET_CLIENT', s.kind],
        // Where a signed S3 image is read from: path-style object URLs under it.
        ...(s.kind === 'nbdkit-s3' ? ([['FR_NET_S3_URL', s.endpoint.replace(/\/+$/, '')]] as [string, string][]) : []),
      ];
  }
}

function renderNetworkConf(s: NetworkLowerStage): string {
  const vars = networkVars(s);
  return `# Baked in by flashroot build for the network lower; not overridable from the command line,\n# so a changed flashroot.lower= still boots only this exact image.\n${vars.map(([k, v]) => `${k}=${shellQuote(v)}`).join('\n')}\n`;
}

/**
 * dmsetup and its libraries as the copy daemon's chroot needs them (the init copies them from the
 * initramfs to /run, which outlives switch_root): `PATH`, or `PATH=TARGET` for a directory symlink
 * of this host (/lib -> usr/lib) that is a real directory in the initramfs.
 */
async function copyToolEntries(): Promise<string[]> {
  const out: string[] = [];
  for (const path of (await elfClosure([await resolveTool('dmsetup')])).files) {
    const st = await lstat(path);
    out.push(st.isSymbolicLink() && (await lstat(await realpath(path))).isDirectory() ? `${path}=${await readlink(path)}` : path);
  }
  return out;
}

async function renderChannelConf(c: ChannelStage): Promise<string> {
  const vars: [string, string][] = [
    ['FR_CH_NAME', c.name],
    ['FR_CH_BUILT', String(c.builtAt)],
    ['FR_CH_FLOOR_PATH', c.floorPath],
    ['FR_CH_TABLE', VERITY_TABLE_TEMPLATE],
    ['FR_CH_SECTORS_PER_BLOCK', String(SECTORS_PER_BLOCK)],
    ...(c.offlineCopy ? ([['FR_CH_COPY', '1'], ['FR_CC_TOOLS', (await copyToolEntries()).join(' ')], ...Object.entries(copyShellDefaults())] as [string, string][]) : []),
  ];
  return `# Baked in by flashroot build --channel; the key beside it decides which manifests this stick boots.\n${vars.map(([k, v]) => `${k}=${shellQuote(v)}`).join('\n')}\n`;
}

/** The network lower's files in the initramfs besides its client (the network layer, staged by build-lower.ts). */
export async function stageNetworkLower(root: string, s: NetworkLowerStage): Promise<void> {
  const channel = 'channel' in s ? s.channel : undefined;
  await copyElfClosure(await Promise.all([...initramfsTools(s.kind), ...(channel ? [CHANNEL_VERIFIER] : [])].map(resolveTool)), root);
  const rt = join(root, RUNTIME_TEMPLATE);
  // run: nbdkit's socket.
  for (const d of ['etc', 'dev', 'mnt', 'proc', 'run']) await mkdir(join(rt, d), { recursive: true });
  // glibc resolves names through these; resolv.conf is copied in at boot, after DHCP.
  await writeFile(join(rt, 'etc/nsswitch.conf'), 'hosts: files dns\n', { flag: 'wx' });
  await writeFile(join(rt, 'etc/hosts'), '127.0.0.1 localhost\n', { flag: 'wx' });
  await mkdir(join(root, 'etc/flashroot'), { recursive: true });
  await copyFile(UDHCPC_SCRIPT, join(root, 'etc/flashroot/udhcpc.sh'), constants.COPYFILE_EXCL);
  await chmod(join(root, 'etc/flashroot/udhcpc.sh'), 0o755);
  await writeFile(join(root, NETWORK_CONF), renderNetworkConf(s), { flag: 'wx' });
  if (channel) {
    await writeFile(join(root, CHANNEL_CONF), await renderChannelConf(channel), { flag: 'wx' });
    await copyFile(channel.trustKey, join(root, CHANNEL_KEY), constants.COPYFILE_EXCL);
  }
  // One device, and no partition scan reading the image at attach: busybox modprobe reads this.
  if (s.kind === 'nbdkit' || s.kind === 'nbdkit-s3') {
    await mkdir(join(root, 'etc/modprobe.d'), { recursive: true });
    await writeFile(join(root, 'etc/modprobe.d/nbd.conf'), 'options nbd nbds_max=1 max_part=0\n', { flag: 'wx' });
  }
  if (s.kind === 'sshfs') await stageSsh(rt, s);
  if (s.kind === 'rclone-http' || s.kind === 'nbdkit' || s.kind === 'nbdkit-s3') await stageCa(rt, s.caCert, CA_FILE);
  if (s.kind === 'nbdkit-s3' && s.credentials) await writeS3Curlrc(rt, s.credentials);
  if (s.kind === 's3fs') await stageS3fs(rt, s.credentials, s.caCert);
}

/** Copies the CA certificates the stick trusts (--ca-cert, or this host's bundle) into the runtime root. */
async function stageCa(rt: string, caCert: string | undefined, dest: string): Promise<void> {
  const source = caCert ?? HOST_CA_BUNDLE;
  await mkdir(dirname(join(rt, dest)), { recursive: true });
  await copyFile(source, join(rt, dest)).catch((e: NodeJS.ErrnoException) => {
    throw new InputError(
      source,
      `cannot read the CA certificates for the network lower (${source}): ${e.code ?? e.message}`,
      caCert ? 'give a readable PEM file to --ca-cert' : 'install ca-certificates, or give the CA that signed the server certificate with --ca-cert FILE',
    );
  });
}

async function stageS3fs(rt: string, credentials: S3Credentials | undefined, caCert: string | undefined): Promise<void> {
  // libcurl (gnutls) reads the CA bundle from Debian's path; s3fs has no option to name another.
  await stageCa(rt, caCert, HOST_CA_BUNDLE.slice(1));
  // s3fs keeps the parts of open files it has read in temporary files under /tmp (see 54-lower-s3fs.sh).
  await mkdir(join(rt, 'tmp'));
  await chmod(join(rt, 'tmp'), 0o1777);
  // Never on s3fs's command line: /proc/PID/cmdline is readable by every user of the booted system.
  if (!credentials) return;
  await mkdir(dirname(join(rt, S3FS_PASSWD)), { recursive: true, mode: 0o700 });
  await writeFile(join(rt, S3FS_PASSWD), `${credentials.accessKeyId}:${credentials.secretAccessKey}\n`, { flag: 'wx', mode: 0o600 });
}

/**
 * The key of a private bucket as a curl config file: libcurl signs each request with it (SigV4 for
 * S3, the payload left unsigned as S3 allows for reads), for the S3 reader and for curl (-K: a
 * channel's manifest, the reason a server refuses). In a file rather than on a command line:
 * /proc/PID/cmdline is readable by every user of the booted system, the runtime root only by root
 * (and hidden after mounting).
 */
async function writeS3Curlrc(rt: string, creds: S3Credentials): Promise<void> {
  const settings: [string, string][] = [
    ['user', `${creds.accessKeyId}:${creds.secretAccessKey}`],
    ['aws-sigv4', `aws:amz:${creds.region}:s3`],
    ['header', 'x-amz-content-sha256: UNSIGNED-PAYLOAD'],
  ];
  // curl's config quotes take backslash escapes; the reader takes none: refuse what would need one.
  if (settings.some(([, v]) => /["\\\r\n]/.test(v))) {
    throw new UsageError('the S3 key or region holds a quote, a backslash or a line break', 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION');
  }
  await mkdir(dirname(join(rt, S3_CURLRC)), { recursive: true });
  await writeFile(join(rt, S3_CURLRC), settings.map(([k, v]) => `${k} = "${v}"\n`).join(''), { flag: 'wx', mode: 0o600 });
}

async function stageSsh(rt: string, s: Extract<NetworkLowerStage, { kind: 'sshfs' }>): Promise<void> {
  // ssh looks its user up (no passwd entry: "No user exists for uid 0") and wants a home.
  await writeFile(join(rt, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/false\n', { flag: 'wx' });
  await mkdir(join(rt, 'root'), { mode: 0o700 });
  await mkdir(join(rt, SSH_DIR), { recursive: true, mode: 0o700 });
  await copyFile(s.sshKey, join(rt, SSH_DIR, 'id'));
  await chmod(join(rt, SSH_DIR, 'id'), 0o600);
  if (s.knownHosts) await copyFile(s.knownHosts, join(rt, SSH_DIR, 'known_hosts'));
}
