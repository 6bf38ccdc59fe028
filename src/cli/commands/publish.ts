import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';

interface PublishOptions {
  to?: string;
  url?: string;
  endpoint?: string;
  json?: boolean;
}

export const register: RegisterCommand = (program: Command) => {
  program
    .command('publish')
    .description('Put a network root image (root-<sha256>.sqfs from flashroot build --lower http://…) into a web root under its content-addressed name; never overwrites.')
    .argument('<image>', 'the root-<sha256>.sqfs image written next to the stick')
    .argument('[s3-url]', 's3://BUCKET/PREFIX/ to upload to (with --endpoint; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)')
    .option('--to <dir>', 'the web root directory (served over HTTP with range requests)')
    .option('--url <url>', 'with --to: the URL the web server maps it to, ending in / (prints the --lower value)')
    .option('--endpoint <url>', 'with s3://…: the S3 endpoint, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000')
    .option('--json', 'print the result as JSON')
    .action(async (image: string, s3Url: string | undefined, opts: PublishOptions) => {
      const [{ publishToDir, publishToS3 }, { credentialsFromEnv }, { UsageError }] = await Promise.all([
        import('../../network/publish.js'),
        import('../../network/s3.js'),
        import('../../errors.js'),
      ]);
      if (Boolean(s3Url) === Boolean(opts.to)) throw new UsageError('give either --to DIR or s3://BUCKET/PREFIX/ --endpoint URL', 'see flashroot publish --help');
      if (s3Url && !opts.endpoint) throw new UsageError('s3://… needs --endpoint URL', 'e.g. --endpoint https://s3.eu-west-1.amazonaws.com');
      const r = s3Url ? await publishToS3(image, s3Url, opts.endpoint ?? '', credentialsFromEnv()) : await publishToDir(image, opts.to ?? '', opts.url);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${r.existed ? 'already published' : 'published'}: ${r.path} (${r.bytes} bytes, sha256 ${r.sha256})\n`);
      const lower = s3Url ? `${r.lower ?? ''} --endpoint ${opts.endpoint ?? ''}` : (r.lower ?? `<URL of ${opts.to}>/${r.name}`);
      process.stdout.write(`boot it with: --lower ${lower}\n`);
    });
};
