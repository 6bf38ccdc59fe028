import type { Command } from 'commander';
import { ENDURANCE_DEFAULTS as D } from '../../endurance/defaults.js';
import type { RegisterCommand } from './index.js';

export const register: RegisterCommand = (program: Command) => {
  program
    .command('endurance')
    .description('Estimate how long a USB stick or SD card lasts: read-write root vs flashroot overlay, from a cited model or a measured boot.')
    .requiredOption('--capacity <size>', 'stick capacity, e.g. 32G (powers of 1000) or 32GiB')
    .option('--nand <type>', 'NAND type: slc, pslc, mlc, tlc, qlc', D.nand)
    .option('--pe <cycles>', 'rated program/erase cycles (replaces the NAND type range)')
    .option('--waf <auto|N>', "write amplification: 'auto' computes it from write and erase-block sizes", D.waf)
    .option('--daily-writes <size>', 'host writes per day of the read-write root (default: a stock Linux figure)')
    .option('--write-size <size>', 'mean write size of the read-write root', D.writeSize)
    .option('--erase-block <size>', 'erase block (allocation unit) of the controller', D.eraseBlock)
    .option('--page <size>', 'NAND page size', D.page)
    .option('--save <size>', 'overlay + save: bytes saved each time', D.save)
    .option('--saves-from <image>', "overlay + save: take the save size from the generations in a stick's saves area (build --persist) instead of --save")
    .option('--save-every <duration>', 'overlay + save: interval (6h, 30m, 2d)', D.saveEvery)
    .option('--image-size <size>', `image size written by each reflash (default: the measured image's size, else ${D.imageSize})`)
    .option('--reflash-every <duration>', 'how often the stick is reflashed', D.reflashEvery)
    .option('--measure <image>', 'boot this flashroot image in QEMU and measure its writes')
    .option('--rw-image <image>', 'read-write comparison image (default: an ext4 image made from the same root)')
    .option('--workload <cmd>', 'shell command run inside the booted root while measuring')
    .option('--minutes <n>', 'length of the measurement window', D.minutes)
    .option('--svg <file>', 'also draw the chart (lifetime vs daily writes) to this SVG file')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: Record<string, unknown>) => {
      const { runEndurance } = await import('../../endurance/run.js');
      await runEndurance(opts);
    });
};
