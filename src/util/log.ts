/**
 * Announces and times steps. Quiet mode (for --json or tests) records but prints nothing; progress
 * is drawn only on a TTY.
 */
export interface StepTiming {
  name: string;
  ms: number;
}

export class Reporter {
  readonly timings: StepTiming[] = [];
  private readonly progressOnTty: boolean;

  constructor(
    readonly quiet = false,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.progressOnTty = !quiet && Boolean(out.isTTY);
  }

  info(message: string): void {
    if (!this.quiet) this.out.write(`${message}\n`);
  }

  /** Shows a transient progress line (TTY only); cleared by the next step line. */
  progress(message: string): void {
    if (this.progressOnTty) this.out.write(`\r\x1b[K  ${message}`);
  }

  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.info(`==> ${name}`);
    const result = await fn();
    const ms = performance.now() - started;
    this.timings.push({ name, ms });
    if (this.progressOnTty) this.out.write('\r\x1b[K');
    this.info(`    done in ${formatMs(ms)}`);
    return result;
  }
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
