/**
 * What one measured boot observed, projected to a day. Pure: the QEMU side lives in measure.ts.
 */
export interface Measurement {
  /** The root configuration booted: flashroot's overlay, or the read-write comparison root. */
  root: 'overlay' | 'rw';
  workload: string;
  /** Length of the measurement window. */
  seconds: number;
  /** Bytes and write operations the stick received in the window (QEMU block statistics). */
  writeBytes: number;
  writeOps: number;
  bytesPerDay: number;
  /** Growth of the tmpfs upper layer in the window (overlay only): RAM, not flash. */
  upperBytes?: number;
  upperBytesPerDay?: number;
}

export interface RawMeasurement {
  root: Measurement['root'];
  workload: string;
  seconds: number;
  writeBytes: number;
  writeOps: number;
  upperBytes?: number;
}

const SECONDS_PER_DAY = 86_400;

/** Linear projection: the workload is assumed to repeat all day at the rate seen in the window. */
export function projectDaily(raw: RawMeasurement): Measurement {
  const perDay = (n: number) => (n * SECONDS_PER_DAY) / raw.seconds;
  const m: Measurement = { ...raw, bytesPerDay: perDay(raw.writeBytes) };
  if (raw.upperBytes !== undefined) m.upperBytesPerDay = perDay(raw.upperBytes);
  return m;
}

/** Mean write size as the controller saw it; undefined when nothing was written. */
export function meanWriteBytes(m: Measurement): number | undefined {
  return m.writeOps === 0 ? undefined : m.writeBytes / m.writeOps;
}

/**
 * How many times more the read-write root wrote to the stick than the overlay root, for the same
 * workload: Infinity when the overlay wrote nothing, undefined when neither wrote anything.
 */
export function savingRatio(measurements: readonly Measurement[]): number | undefined {
  const rw = measurements.find((m) => m.root === 'rw');
  const overlay = measurements.find((m) => m.root === 'overlay');
  if (!rw || !overlay || rw.writeBytes === 0) return undefined;
  return overlay.writeBytes === 0 ? Infinity : rw.writeBytes / overlay.writeBytes;
}
