import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';

interface PublishOptions {
  to?: string;
  url?: string;
  endpoint?: string;
  caCert?: string;
  channel?: string;
  signKey?: string;
  trust?: string;
  newKey?: boolean;
  version?: string;
  expiresIn?: string;
  json?: boolean;
}

/** How long a manifest stays valid by default: boxes refuse it after that, so re-publish (cron) well before. */
const DEFAULT_EXPIRES_IN = '30d';

export const register: RegisterCommand = (program: Command) => {
  program
    .command('publish')
    .description(
      'Put a network root image (root-<sha256>.sqfs from flashroot build --lower http://…) into a web root or bucket under its content-addressed name, or a root tree into a bucket for s3fs; never overwrites.',
    )
    .argument('<image-or-root>', 'the root-<sha256>.sqfs image written next to the stick; with s3fs://…, the root directory tree')
    .argument('[s3-url]', 's3://BUCKET/PREFIX/ (an image) or s3fs://BUCKET/PREFIX/ (a tree, into an empty prefix) to upload to, with --endpoint; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY')
    .option('--to <dir>', 'the web root directory (served over HTTP with range requests)')
    .option('--url <url>', 'with --to: the URL the web server maps it to, ending in / (prints the --lower value)')
    .option('--endpoint <url>', 'with s3://… or s3fs://…: the S3 endpoint, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000')
    .option('--ca-cert <file>', 'with an https:// --endpoint: the CA certificates (PEM) to trust for it, instead of the system ones')
    .option('--channel <name>', 'after the image, sign and publish the manifest of channel NAME naming it (sticks built with --channel NAME boot it at their next boot); needs --sign-key')
    .option('--sign-key <file>', "with --channel: the signify secret key (signify-openbsd -G -n -p fleet.pub -s fleet.sec; the sticks trust fleet.pub)")
    .option('--trust <file>', "with --channel: the public key the sticks trust (build --trust); refuses a --sign-key that is not its pair (worth giving on a channel's first publish, when there is no manifest to compare with)")
    .option('--new-key', "with --channel: sign with another key than the channel's current manifest (refused without it: sticks refuse a manifest signed by a key they do not trust); rebuild the sticks with --trust NEW.pub first")
    .option('--version <n>', "with --channel: the manifest's version (default: the channel's current version + 1); it must rise")
    .option('--expires-in <duration>', `with --channel: how long boxes may boot this manifest, e.g. 30d, 12h (default ${DEFAULT_EXPIRES_IN}); re-publish before it ends`)
    .option('--json', 'print the result as JSON')
    .action(async (source: string, s3Url: string | undefined, opts: PublishOptions) => {
      const [{ publishToDir, publishToS3, publishChannelToDir, publishChannelToS3 }, { publishTreeToS3 }, { formatFidelity }, { credentialsFromEnv }, { InputError, UsageError }, { parseDuration }, { preflight }] = await Promise.all([
        import('../../network/publish.js'),
        import('../../network/s3fs.js'),
        import('../../network/fidelity.js'),
        import('../../network/s3.js'),
        import('../../errors.js'),
        import('../../network/channel.js'),
        import('../../util/tools.js'),
      ]);
      if (Boolean(s3Url) === Boolean(opts.to)) throw new UsageError('give either --to DIR or s3://BUCKET/PREFIX/ (or s3fs://BUCKET/PREFIX/) --endpoint URL', 'see flashroot publish --help');
      if (s3Url && !opts.endpoint) throw new UsageError(`${s3Url.replace(/:.*/, '')}://… needs --endpoint URL`, 'e.g. --endpoint https://s3.eu-west-1.amazonaws.com');
      if (opts.caCert && !opts.endpoint?.startsWith('https://')) throw new UsageError('--ca-cert: only used with an https:// --endpoint', 'see flashroot publish --help');
      if (Boolean(opts.channel) !== Boolean(opts.signKey)) throw new UsageError('--channel and --sign-key: give both (a channel manifest is always signed) or neither', 'see flashroot publish --help');
      if (!opts.channel && (opts.version ?? opts.expiresIn ?? opts.trust ?? opts.newKey) !== undefined) throw new UsageError('--version, --expires-in, --trust and --new-key: only with --channel', 'see flashroot publish --help');
      if (opts.channel && s3Url?.startsWith('s3fs://')) throw new UsageError('--channel: for images (--to DIR or s3://…), not s3fs trees', 'see flashroot publish --help');
      if (opts.version !== undefined && !/^[1-9][0-9]{0,17}$/.test(opts.version)) throw new UsageError(`--version ${opts.version}: a positive whole number`, 'leave it out to take the current version + 1');
      const print = (line: string) => void (opts.json || process.stdout.write(`${line}\n`));
      const ca = opts.caCert
        ? await readFile(opts.caCert).catch((e: NodeJS.ErrnoException) => {
            throw new InputError(opts.caCert ?? '', `cannot read --ca-cert ${opts.caCert ?? ''}: ${e.code ?? e.message}`, 'give the PEM file of the CA that signed the endpoint certificate');
          })
        : undefined;
      const access = () => ({ endpoint: opts.endpoint ?? '', creds: credentialsFromEnv(), ca });
      if (s3Url?.startsWith('s3fs://')) {
        const r = await publishTreeToS3(source, s3Url, access(), (losses) => {
          print(`publishing ${source} to ${s3Url} in s3fs's object format`);
          formatFidelity(losses, 's3fs').forEach(print);
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        print(`published: ${r.objects} objects (${r.bytes} bytes of file content) to ${s3Url}${r.leftOut.length ? `; left out ${r.leftOut.length}: ${r.leftOut.slice(0, 3).join(', ')}` : ''}`);
        print(`boot it with: --lower ${r.lower} --endpoint ${opts.endpoint ?? ''}`);
        return;
      }
      if (opts.channel && opts.signKey) {
        await preflight(['signify-openbsd'], []);
        const c = { channel: opts.channel, signKey: opts.signKey, trust: opts.trust, newKey: opts.newKey, version: opts.version === undefined ? undefined : Number(opts.version), expiresInSec: parseDuration(opts.expiresIn ?? DEFAULT_EXPIRES_IN) };
        const r = s3Url ? await publishChannelToS3(source, s3Url, access(), c) : await publishChannelToDir(source, opts.to ?? '', c, opts.url);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        print(`${r.image.existed ? 'already published' : 'published'}: ${r.image.path} (${r.image.bytes} bytes, sha256 ${r.image.sha256})`);
        print(`channel ${r.manifest.channel}: version ${r.manifest.version}${r.previous === undefined ? ' (new channel)' : ` (was ${r.previous})`}, expires ${new Date(r.manifest.expires * 1000).toISOString()}, signed by key ${r.keyNumber}: ${r.path}`);
        if (r.previousKeyNumber) print(`the channel moved from key ${r.previousKeyNumber} to key ${r.keyNumber}: sticks built with --trust for the old key refuse it from their next boot`);
        print(`sticks built with --channel ${r.manifest.channel} boot it at their next boot; publish again before it expires`);
        return;
      }
      const r = s3Url ? await publishToS3(source, s3Url, access()) : await publishToDir(source, opts.to ?? '', opts.url);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      print(`${r.existed ? 'already published' : 'published'}: ${r.path} (${r.bytes} bytes, sha256 ${r.sha256})`);
      const lower = s3Url ? `${r.lower ?? ''} --endpoint ${opts.endpoint ?? ''}` : (r.lower ?? `<URL of ${opts.to}>/${r.name}`);
      print(`boot it with: --lower ${lower}`);
    });
};
