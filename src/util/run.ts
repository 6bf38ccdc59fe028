/**
 * The one door to subprocesses: argv arrays only, never shell strings. A missing program becomes
 * ToolMissingError (with the apt package that provides it); a failing one becomes CommandError
 * with the tail of its stderr.
 */
import { execa, type Options, type ResultPromise } from 'execa';
import { CommandError, ToolMissingError } from '../errors.js';
import { toolInfo } from './tools.js';

const STDERR_TAIL_LINES = 15;

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Called with each stderr line as it arrives (progress output). */
  onStderrLine?: (line: string) => void;
  /** Called with each stdout line as it arrives. */
  onStdoutLine?: (line: string) => void;
  timeoutMs?: number;
  /** Accept these exit codes as success (default only 0). */
  okExitCodes?: readonly number[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
}

function describe(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}

export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const execaOpts: Options = {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    input: opts.input,
    timeout: opts.timeoutMs,
    reject: false,
    stripFinalNewline: false,
    encoding: 'utf8',
    lines: false,
  };
  const child: ResultPromise<Options> = execa(file, args, execaOpts);
  const forward = (stream: NodeJS.ReadableStream | null, cb?: (line: string) => void) => {
    if (!stream || !cb) return;
    let buf = '';
    stream.on('data', (chunk: Buffer | string) => {
      buf += chunk.toString();
      // mksquashfs and friends redraw progress with \r; treat it as a line end too.
      const parts = buf.split(/\r\n|\n|\r/);
      buf = parts.pop() ?? '';
      for (const p of parts) if (p) cb(p);
    });
  };
  forward(child.stderr, opts.onStderrLine);
  forward(child.stdout, opts.onStdoutLine);
  const r = await child;
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  const notFound = (r as { code?: string }).code === 'ENOENT' || (r.failed && r.exitCode === undefined && /ENOENT/.test(String(r.message)));
  if (notFound) {
    const info = toolInfo(file);
    throw new ToolMissingError(file, info.why, info.apt);
  }
  const ok = r.exitCode !== undefined && (r.exitCode === 0 || (opts.okExitCodes ?? []).includes(r.exitCode));
  if (!ok || r.timedOut) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs} ms\n` : '';
    throw new CommandError(describe(file, args), r.exitCode, why + tail(stderr || stdout), r);
  }
  return { stdout, stderr, exitCode: r.exitCode ?? 0 };
}
