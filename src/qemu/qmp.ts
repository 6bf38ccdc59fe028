/**
 * A small client for the QEMU Machine Protocol over a unix socket (QEMU started with
 * `-qmp unix:PATH,server,nowait`). QMP is one JSON object per line: a greeting, then replies
 * (`return` or `error`, matched to our request by `id`) interleaved with asynchronous `event`s.
 * https://www.qemu.org/docs/master/interop/qmp-spec.html
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlashrootError } from '../errors.js';

/** QEMU answered a command with an error (`class` is QMP's, e.g. CommandNotFound, DeviceNotFound). */
export class QmpError extends FlashrootError {
  readonly command: string;
  readonly errorClass: string;
  constructor(command: string, errorClass: string, desc: string, hint?: string) {
    super('EQMP', `QEMU refused '${command}': ${errorClass}: ${desc}`, { hint, exitCode: 5 });
    this.command = command;
    this.errorClass = errorClass;
  }
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

type Message = { QMP?: unknown; id?: number; return?: unknown; error?: { class: string; desc: string } } & Partial<QmpEvent>;

export interface QmpConnectOptions {
  /** How long to keep retrying while QEMU has not created the socket yet. */
  timeoutMs?: number;
}

export class QmpClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly eventLog: QmpEvent[] = [];
  private readonly eventWaiters = new Set<(e: QmpEvent) => void>();
  private closedError: Error | undefined;
  private greeted = false;
  private greetingWaiter: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) this.dispatch(JSON.parse(line) as Message);
      }
    });
    const fail = (why: string) => {
      this.closedError ??= new FlashrootError('EQMP', `QMP connection ${why}.`, { hint: 'QEMU exited or closed its monitor; see its stderr.' });
      for (const p of this.pending.values()) p.reject(this.closedError);
      this.pending.clear();
    };
    socket.on('close', () => fail('closed'));
    socket.on('error', (err) => fail(`failed: ${err.message}`));
  }

  /** Connects (retrying until QEMU has created the socket), reads the greeting, enters command mode. */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    for (;;) {
      try {
        const socket = await openSocket(path);
        const client = new QmpClient(socket);
        await client.greeting();
        await client.execute('qmp_capabilities');
        return client;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const retryable = code === 'ENOENT' || code === 'ECONNREFUSED';
        if (!retryable || Date.now() > deadline) {
          throw new FlashrootError('EQMP', `Cannot talk QMP on ${path}: ${(err as Error).message}`, {
            hint: 'Start QEMU with -qmp unix:PATH,server,nowait and check that it is still running.',
            cause: err,
          });
        }
        await sleep(50);
      }
    }
  }

  private greeting(): Promise<void> {
    if (this.greeted) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.greetingWaiter = () => resolve();
      this.socket.once('close', () => reject(this.closedError ?? new Error('closed before the QMP greeting')));
    });
  }

  private dispatch(m: Message): void {
    if (m.QMP !== undefined) {
      this.greeted = true;
      this.greetingWaiter?.();
      return;
    }
    if (m.event !== undefined) {
      const e: QmpEvent = { event: m.event, data: m.data, timestamp: m.timestamp };
      this.eventLog.push(e);
      for (const w of this.eventWaiters) w(e);
      return;
    }
    const p = m.id === undefined ? undefined : this.pending.get(m.id);
    if (!p || m.id === undefined) return;
    this.pending.delete(m.id);
    if (m.error) p.reject(new QmpError(p.command, m.error.class, m.error.desc));
    else p.resolve(m.return);
  }

  /** Runs one QMP command and resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`);
    });
  }

  /** Events received so far (oldest first). */
  get events(): readonly QmpEvent[] {
    return this.eventLog;
  }

  /** Resolves with the first event (already received or coming) that matches. */
  waitForEvent(match: (e: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent> {
    const seen = this.eventLog.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.eventWaiters.delete(waiter);
        reject(new FlashrootError('EQMP', `No matching QMP event within ${timeoutMs} ms.`, { hint: 'The guest may not have released the device; see its console.' }));
      }, timeoutMs);
      const waiter = (e: QmpEvent) => {
        if (!match(e)) return;
        clearTimeout(timer);
        this.eventWaiters.delete(waiter);
        resolve(e);
      };
      this.eventWaiters.add(waiter);
    });
  }

  close(): void {
    this.socket.end();
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One entry of `query-blockstats`, reduced to what flashroot reads. */
export interface BlockDeviceStats {
  device: string;
  qdev?: string;
  stats: { wr_bytes: number; wr_operations: number; rd_bytes: number; rd_operations: number; flush_operations: number };
}

/** Write counters of the block backend named `drive` (the `id=` of `-drive`). */
export async function queryBlockstats(qmp: QmpClient, drive: string): Promise<BlockDeviceStats['stats']> {
  const all = await qmp.execute<BlockDeviceStats[]>('query-blockstats');
  const found = all.find((d) => d.device === drive);
  if (!found) {
    throw new QmpError('query-blockstats', 'DeviceNotFound', `no block device '${drive}' (have: ${all.map((d) => d.device || d.qdev).join(', ')})`, 'Pass the id= of the -drive option.');
  }
  return found.stats;
}

/**
 * Pulls a device out of the running machine, like yanking a USB stick, and waits until QEMU says
 * it is gone (DEVICE_DELETED), since `device_del` only starts the unplug.
 */
export async function unplugDevice(qmp: QmpClient, id: string, timeoutMs = 10_000): Promise<void> {
  const gone = qmp.waitForEvent((e) => e.event === 'DEVICE_DELETED' && e.data?.device === id, timeoutMs);
  // An unplug that fails must not leave the waiter to reject unobserved.
  gone.catch(() => undefined);
  await qmp.execute('device_del', { id });
  await gone;
}
