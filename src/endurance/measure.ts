/**
 * Measured mode: boot the image in QEMU, run a workload, read the stick's write counters over QMP.
 * Landing in the next commits (needs the QMP client and the QEMU runner).
 */
import { FlashrootError } from '../errors.js';
import type { Reporter } from '../util/log.js';
import type { Measurement } from './measurement.js';

export interface MeasureRequest {
  image: string;
  rwImage: string | undefined;
  workload: string | undefined;
  minutes: number;
  reporter: Reporter;
}

export function measureWrites(req: MeasureRequest): Promise<Measurement[]> {
  return Promise.reject(new FlashrootError('ENOTYET', `Measured mode is not available yet (asked to measure ${req.image}).`, { hint: 'Run the model without --measure.' }));
}
