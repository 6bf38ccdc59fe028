/**
 * The one door to subprocesses: argv arrays only, never shell strings. A missing program becomes
 * ToolMissingError (with the apt package that provides it); a failing one becomes CommandError
 * with the tail of its stderr.
 */
import { StringDecoder } from 'node:string_decoder';
import { execa, type Options, type Result, type ResultPromise } from 'execa';
import { CommandError, ToolMissingError } from '../errors.js';
import { toolInfo } from './tools.js';

const STDERR_TAIL_LINES = 15;

export interface RunOptions {
  cwd?: string;
  /** Added to the inherited environment; a variable set to undefined is removed from it. */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Called with each stderr line as it arrives (progress output). */
  onStderrLine?: (line: string) => void;
  /** Called with each stdout line as it arrives. */
  onStdoutLine?: (line: string) => void;
  timeoutMs?: number;
  /** Accept these exit codes as success (default only 0). */
  okExitCodes?: readonly number[];
  /** The program reads this process's stdin (a terminal it asks a passphrase on). */
  inheritStdin?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
}

export function describeCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}

/** Splits a stream into lines; carriage returns end lines too (progress bars redraw with \r). */
export function forwardLines(stream: NodeJS.ReadableStream | null | undefined, cb?: (line: string) => void): void {
  if (!stream || !cb) return;
  let buf = '';
  // A UTF-8 character split across two chunks must not become two replacement characters.
  const decoder = new StringDecoder('utf8');
  stream.on('data', (chunk: Buffer | string) => {
    buf += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    const parts = buf.split(/\r\n|\n|\r/);
    buf = parts.pop() ?? '';
    for (const p of parts) if (p) cb(p);
  });
  stream.on('end', () => {
    buf += decoder.end();
    if (buf) cb(buf);
  });
}

function options(opts: RunOptions, encoding: 'utf8' | 'buffer'): Options {
  // An env entry set to undefined removes that variable from what the child inherits.
  const removes = Object.entries(opts.env ?? {}).some(([, v]) => v === undefined);
  const env = removes ? Object.fromEntries(Object.entries({ ...process.env, ...opts.env }).filter(([, v]) => v !== undefined)) : opts.env;
  return {
    cwd: opts.cwd,
    env,
    extendEnv: !removes,
    input: opts.input,
    timeout: opts.timeoutMs,
    reject: false,
    stripFinalNewline: false,
    encoding,
  };
}

/** Maps execa's result to our errors: not installed, failed, or timed out. */
function settle(file: string, args: readonly string[], r: Result, opts: RunOptions): void {
  if ((r as { code?: string }).code === 'ENOENT') {
    const info = toolInfo(file);
    throw new ToolMissingError(file, info.why, info.apt);
  }
  const ok = r.exitCode !== undefined && (r.exitCode === 0 || (opts.okExitCodes ?? []).includes(r.exitCode));
  if (!ok || r.timedOut) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs} ms\n` : '';
    const stderr = Buffer.isBuffer(r.stderr) ? r.stderr.toString() : String(r.stderr ?? '');
    throw new CommandError(describeCommand(file, args), r.exitCode, why + tail(stderr), r);
  }
}

export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const child: ResultPromise<Options> = execa(file, args, { ...options(opts, 'utf8'), ...(opts.inheritStdin ? { stdin: 'inherit' as const } : {}) });
  forwardLines(child.stderr, opts.onStderrLine);
  forwardLines(child.stdout, opts.onStdoutLine);
  const r = await child;
  settle(file, args, r, opts);
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? 0 };
}

/** Like run, for programs whose output is binary (compressors). */
export async function runBinary(file: string, args: readonly string[], opts: RunOptions = {}): Promise<Buffer> {
  const r = await execa(file, args, options(opts, 'buffer'));
  settle(file, args, r, opts);
  return Buffer.from(r.stdout as Uint8Array);
}

export interface StartedProcess {
  pid: number | undefined;
  /** Writes to the program's stdin (open only when started with `interactive`). */
  write(text: string): void;
  /** Resolves when the process ends, with its exit code (undefined when killed by a signal). */
  exited: Promise<number | undefined>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts a long-running program (QEMU, a server) whose output is consumed while it runs. */
export function start(file: string, args: readonly string[], opts: RunOptions & { interactive?: boolean } = {}): StartedProcess {
  const stdin = opts.inheritStdin ? 'inherit' : opts.input !== undefined || opts.interactive ? 'pipe' : 'ignore';
  const child = execa(file, args, { ...options(opts, 'utf8'), buffer: false, stdin });
  forwardLines(child.stderr, opts.onStderrLine);
  forwardLines(child.stdout, opts.onStdoutLine);
  const exited = child.then((r) => {
    if ((r as { code?: string }).code === 'ENOENT') {
      const info = toolInfo(file);
      throw new ToolMissingError(file, info.why, info.apt);
    }
    return r.exitCode;
  });
  return {
    pid: child.pid,
    exited,
    write: (text) => {
      if (child.stdin?.writable) child.stdin.write(text);
    },
    kill: (signal = 'SIGTERM') => void child.kill(signal),
  };
}
