/**
 * Typed errors. Every error a user can meet carries a stable code, an exit code, and a hint that
 * says what to do next. Only the CLI entry point prints them and exits.
 */
export class FlashrootError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(code: string, message: string, opts: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = opts.exitCode ?? 1;
    this.hint = opts.hint;
  }
}

/** Bad flags or settings: the user can fix them by changing the command line. */
export class UsageError extends FlashrootError {
  constructor(message: string, hint?: string) {
    super('EUSAGE', message, { hint, exitCode: 2 });
  }
}

/** A file or directory the user named is unusable (missing, unreadable, wrong kind). */
export class InputError extends FlashrootError {
  readonly path: string;
  constructor(path: string, message: string, hint?: string) {
    super('EINPUT', message, { hint, exitCode: 3 });
    this.path = path;
  }
}

/** An external program is not installed. */
export class ToolMissingError extends FlashrootError {
  readonly tool: string;
  constructor(tool: string, why: string, aptPackage: string) {
    super('ETOOL', `Could not find '${tool}', which is required to ${why}.`, {
      hint: `Install it: apt-get install ${aptPackage}`,
      exitCode: 4,
    });
    this.tool = tool;
  }
}

/** An external program ran and failed. */
export class CommandError extends FlashrootError {
  readonly command: string;
  readonly commandExitCode: number | undefined;
  readonly stderrTail: string;
  constructor(command: string, commandExitCode: number | undefined, stderrTail: string, cause?: unknown) {
    const how = commandExitCode === undefined ? 'was killed' : `failed with exit code ${commandExitCode}`;
    super('ECOMMAND', `Command ${how}: ${command}${stderrTail ? `\n${stderrTail}` : ''}`, { exitCode: 5, cause });
    this.command = command;
    this.commandExitCode = commandExitCode;
    this.stderrTail = stderrTail;
  }
}

/** The kernel given cannot boot a flashroot stick (unreadable, no modules, missing features). */
export class KernelError extends FlashrootError {
  constructor(message: string, hint?: string) {
    super('EKERNEL', message, { hint, exitCode: 3 });
  }
}

/** A refusal to touch a device or file because a safety rule failed. */
export class SafetyError extends FlashrootError {
  readonly reasons: readonly string[];
  constructor(message: string, reasons: readonly string[], hint?: string) {
    super('ESAFETY', message, { hint, exitCode: 6 });
    this.reasons = reasons;
  }
}

/** The filesystem an output goes to cannot hold it. */
export class NoSpaceError extends FlashrootError {
  constructor(
    readonly where: string,
    readonly neededBytes: number,
    readonly freeBytes: number,
    opts: { atLeast?: boolean; cause?: unknown } = {},
  ) {
    super('ENOSPC', `no space left on ${where}: the image needs ${opts.atLeast ? 'at least ' : ''}${mib(neededBytes)}, ${mib(freeBytes)} free`, {
      hint: 'free space there, or give --out a place on a filesystem with room',
      exitCode: 3,
      cause: opts.cause,
    });
  }
}

/** MiB with one decimal: the unit df -h and the build's own messages use. */
function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** What a user can cause that the filesystem or a device reports: the words, the exit code. */
const SYSTEM_ERRORS: Record<string, { what: string; exitCode: number }> = {
  ENOSPC: { what: 'no space left on the device', exitCode: 3 },
  EDQUOT: { what: 'disk quota exceeded', exitCode: 3 },
  EROFS: { what: 'read-only filesystem', exitCode: 3 },
  EISDIR: { what: 'is a directory', exitCode: 3 },
  ENOTDIR: { what: 'not a directory', exitCode: 3 },
  ENOENT: { what: 'no such file or directory', exitCode: 3 },
  EACCES: { what: 'permission denied', exitCode: 77 },
  EPERM: { what: 'operation not permitted', exitCode: 77 },
  EIO: { what: 'I/O error', exitCode: 7 },
  ENXIO: { what: 'the device is gone', exitCode: 7 },
  ENODEV: { what: 'the device is gone', exitCode: 7 },
};

/** A filesystem or device error that no closer code turned into a typed one: told without a stack. */
export class SystemError extends FlashrootError {
  constructor(
    readonly errno: string,
    readonly path: string | undefined,
    what: string,
    exitCode: number,
    cause: unknown,
  ) {
    super(errno, `${path ? `${path}: ` : ''}${what}`, {
      hint: 'if that is not a place you named or a drive you use, it is a bug: report it with the command you ran',
      exitCode,
      cause,
    });
  }
}

/** The SystemError for a Node errno error of a kind a user can cause; undefined for anything else. */
export function systemError(err: unknown): SystemError | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, path, syscall } = err as NodeJS.ErrnoException;
  const known = code === undefined ? undefined : SYSTEM_ERRORS[code];
  if (!code || !known) return undefined;
  return new SystemError(code, path, `${known.what}${syscall ? ` (${syscall})` : ''}`, known.exitCode, err);
}
