import type { Command } from 'commander';
import type { RegisterCommand } from './index.js';

interface PublishOptions {
  to?: string;
  url?: string;
  json?: boolean;
}

export const register: RegisterCommand = (program: Command) => {
  program
    .command('publish')
    .description('Put a network root image (root-<sha256>.sqfs from flashroot build --lower http://…) into a web root under its content-addressed name; never overwrites.')
    .argument('<image>', 'the root-<sha256>.sqfs image written next to the stick')
    .requiredOption('--to <dir>', 'the web root directory (served over HTTP with range requests)')
    .option('--url <url>', 'the URL the web server maps --to to, ending in / (prints the --lower value)')
    .option('--json', 'print the result as JSON')
    .action(async (image: string, opts: PublishOptions) => {
      const { publishToDir } = await import('../../network/publish.js');
      const r = await publishToDir(image, opts.to ?? '', opts.url);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${r.existed ? 'already published' : 'published'}: ${r.path} (${r.bytes} bytes, sha256 ${r.sha256})\n`);
      process.stdout.write(r.lower ? `boot it with: --lower ${r.lower}\n` : `boot it with: --lower <URL of ${opts.to}>/${r.name}\n`);
    });
};
