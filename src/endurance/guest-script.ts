/**
 * What measured mode types into the booted root's shell, and how it reads the answers. Pure.
 *
 * The shell echoes what it is typed, so the markers are assembled at run time ("$m-START"): the
 * echo of the command line can never be mistaken for the answer.
 */
export const MARKER = 'FLASHROOT-MEASURE';

/**
 * A stand-in for a box's background writes: a log line appended and synced every second, the
 * small synchronous writes that wear cheap flash fastest.
 */
export const DEFAULT_WORKLOAD = 'mkdir -p /var/log; i=0; while :; do echo "$(date) event $i" >>/var/log/flashroot-workload.log; sync; i=$((i+1)); sleep 1; done';

/** Where flashroot's init leaves the tmpfs that holds the overlay's upper layer. */
export const UPPER_TMPFS = '/run/flashroot/rw';

// The tty's canonical-mode line buffer is 4096 bytes; stay well inside it.
const MAX_LINE = 3000;

/**
 * Bytes sent before the command line that may be lost. The 8250 UART driver clears its 16-byte
 * receive FIFO when it probes the port and again when the console is first opened, dropping what
 * QEMU had already put there (seen when the text was sent at QEMU's start: the newlines and the first
 * letter of the command). measure.ts now types once /init runs, after both; the newlines stay as a
 * guard, harmless to lose or to keep: each is an empty command.
 */
const LOSABLE_PREFIX = '\n'.repeat(64);

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * One command line: flush what the boot wrote, mark the start (with the upper layer's use in KiB),
 * run the workload for the window, stop it, flush, mark the end with its exit status, then idle
 * until the host has read the counters and stops the machine.
 */
export function guestScript(workload: string, windowSeconds: number): string {
  const line = [
    `m=${MARKER}`,
    `u() { df -k ${UPPER_TMPFS} 2>/dev/null | awk 'NR==2 {print $3}'; }`,
    'sync',
    'sleep 2',
    'echo "$m-START upper=$(u)"',
    // Let the host read the counters before the first write.
    'sleep 1',
    `sh -c ${shellQuote(workload)} </dev/null >/dev/null 2>&1 & p=$!`,
    `sleep ${Math.round(windowSeconds)}`,
    'kill $p 2>/dev/null',
    'wait $p; rc=$?',
    'sync',
    'echo "$m-END upper=$(u) rc=$rc"',
    'sleep 60',
    'poweroff -f',
  ].join('; ');
  if (line.length > MAX_LINE) {
    throw new RangeError(`the workload makes a ${line.length}-byte command line; the console takes at most ${MAX_LINE}`);
  }
  return `${LOSABLE_PREFIX}${line}\n`;
}

export interface MarkerLine {
  kind: 'START' | 'END';
  /** Used KiB of the upper layer's tmpfs; undefined when the root has none (read-write root). */
  upperKiB: number | undefined;
  /** The workload's exit status (END only); 143 means it ran until the window closed. */
  rc: number | undefined;
}

export function parseMarkerLine(line: string): MarkerLine | undefined {
  const m = new RegExp(`${MARKER}-(START|END) upper=(\\d*)(?: rc=(\\d+))?`).exec(line);
  if (!m) return undefined;
  return { kind: m[1] as MarkerLine['kind'], upperKiB: m[2] ? Number(m[2]) : undefined, rc: m[3] === undefined ? undefined : Number(m[3]) };
}

/** Exit statuses that mean the workload did its job: it finished, or the window ended it (SIGTERM). */
export function workloadSucceeded(rc: number | undefined): boolean {
  return rc === 0 || rc === 143;
}
