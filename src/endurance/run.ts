/**
 * `flashroot endurance`: the model over the three configurations, fed by defaults, the user's
 * figures, or a measured boot (`--measure`), printed as a table or JSON, and drawn as an SVG.
 */
import { stat, writeFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { Reporter } from '../util/log.js';
import { ENDURANCE_DEFAULTS } from './defaults.js';
import { comparisonLoads, DEFAULT_RW_DAILY_BYTES, estimate, geometricMiddle, type FlashSpec } from './model.js';
import { meanWriteBytes, type Measurement } from './measurement.js';
import { checkEnduranceOptions, type EnduranceOptions } from './options.js';
import { renderTable, toJson } from './report.js';
import { renderSvg } from './svg.js';
import { parseSize } from '../util/units.js';

export async function runEndurance(raw: Record<string, unknown>): Promise<void> {
  const o = await checkEnduranceOptions(raw);
  const flash: FlashSpec = { capacityBytes: o.capacity, nand: o.nand, pe: o.pe, waf: o.waf, pageBytes: o.page, eraseBlockBytes: o.eraseBlock };
  const reporter = new Reporter(o.json);
  const measurements = o.measure === undefined ? [] : await measureBoth(o, o.measure, reporter);
  const rw = measurements.find((m) => m.root === 'rw');
  const overlay = measurements.find((m) => m.root === 'overlay');
  const loads = comparisonLoads({
    rwDailyBytes: rw?.bytesPerDay ?? o.dailyWrites ?? DEFAULT_RW_DAILY_BYTES,
    rwMeanWriteBytes: (rw && meanWriteBytes(rw)) ?? o.writeSize,
    rwSource: rw ? 'measured' : o.dailyWrites === undefined ? 'default' : 'user',
    overlayDailyBytes: overlay?.bytesPerDay ?? 0,
    overlayMeanWriteBytes: overlay && meanWriteBytes(overlay),
    overlaySource: overlay ? 'measured' : 'default',
    imageBytes: o.imageSize ?? (o.measure === undefined ? parseSize(ENDURANCE_DEFAULTS.imageSize, '--image-size') : (await stat(o.measure)).size),
    reflashEveryDays: o.reflashEvery / 24,
    saveBytes: o.savesFrom === undefined ? o.save : await saveBytesFrom(o.savesFrom, reporter),
    saveEveryHours: o.saveEvery,
  });
  const estimates = loads.map((l) => estimate(flash, l));
  process.stdout.write(o.json ? toJson(flash, estimates, measurements) : renderTable(flash, estimates, measurements));
  if (o.svg !== undefined) {
    // The NAND lines assume the read-write root's amplification: the configuration a reader compares against.
    const lineWaf = geometricMiddle(estimates[0]!.waf);
    await writeFile(o.svg, renderSvg(flash, estimates, lineWaf));
    reporter.info(`chart written to ${o.svg}`);
  }
}

/**
 * What one save of this stick writes, from the generations in its saves area: their mean payload
 * as the block layer writes it (whole 4 KiB pages); the model adds the two header sectors.
 */
async function saveBytesFrom(image: string, reporter: Reporter): Promise<number> {
  const { probeStickImage } = await import('../disk/probe.js');
  const { readSavesArea, SAVES_PARTITION_TYPE } = await import('../stick/saves-area.js');
  const { mbr } = await probeStickImage(image);
  const part = mbr.partitions.find((p) => p.type === SAVES_PARTITION_TYPE);
  const area = part && (await readSavesArea(image, part.startLba * 512, part.sectors * 512));
  const sizes = (area?.slots ?? []).filter((s) => s.state === 'valid').map((s) => Math.ceil((s.header?.length ?? 0) / 4096) * 4096);
  if (sizes.length === 0) {
    throw new InputError(image, `${image} holds no saved generation`, part ? 'boot it and save (flashroot-save) first, or give --save SIZE' : 'build the stick with --persist PATH, or give --save SIZE');
  }
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  reporter.info(`save size from ${image}: ${sizes.length} generation(s), mean ${Math.round(mean)} bytes as written (payload pages)`);
  return mean;
}

async function measureBoth(o: EnduranceOptions, image: string, reporter: Reporter): Promise<Measurement[]> {
  const { measureWrites } = await import('./measure.js');
  return measureWrites({ image, rwImage: o.rwImage, workload: o.workload, minutes: o.minutes, reporter });
}
