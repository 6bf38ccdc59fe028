import { describe, expect, it } from 'vitest';
import { NoSpaceError, systemError, UsageError } from '../../../src/errors.js';
import { MIB } from '../../../src/disk/layout.js';
import { asNoSpace, checkImageSize, writtenBytesFor } from '../../../src/disk/space.js';

const errno = (code: string, extra: Record<string, string> = {}) => Object.assign(new Error(`${code}: something, write`), { code, ...extra });

describe('room for the image', () => {
  it('refuses a --size below the contents, and suggests binary MiB (M would be 10^6)', () => {
    expect(() => checkImageSize(undefined, 500 * MIB)).not.toThrow();
    expect(() => checkImageSize(100 * MIB, 500 * MIB)).toThrow(UsageError);
    expect(() => checkImageSize(100 * MIB, 500 * MIB)).toThrow(/contents need 567 MiB/);
    try {
      checkImageSize(100 * MIB, 500 * MIB, true);
    } catch (e) {
      expect((e as Error).message).toMatch(/need at least 567 MiB/);
      expect((e as UsageError).hint).toMatch(/^use --size 567MiB or more/);
    }
  });
  it('tells ENOSPC while writing as no space left, with the need and what is free', async () => {
    const e = await asNoSpace(errno('ENOSPC'), '/tmp/x/stick.img', 10 * MIB);
    expect(e).toBeInstanceOf(NoSpaceError);
    expect((e as NoSpaceError).neededBytes).toBe(writtenBytesFor(10 * MIB));
    expect((e as NoSpaceError).message).toMatch(/^no space left on \/tmp\/x: the image needs 12\.0 MiB, [\d.]+ MiB free$/);
    expect((e as NoSpaceError).exitCode).toBe(3);
    const other = errno('EINVAL');
    expect(await asNoSpace(other, '/tmp/x/stick.img', 0)).toBe(other);
  });
});

describe('systemError', () => {
  it('tells filesystem and device errors a user can cause in one line, with the path', () => {
    const e = systemError(errno('EROFS', { path: '/mnt/ro/x.svg', syscall: 'open' }));
    expect(e?.message).toBe('/mnt/ro/x.svg: read-only filesystem (open)');
    expect(e?.exitCode).toBe(3);
    expect(systemError(errno('EIO'))?.exitCode).toBe(7);
    expect(systemError(errno('EACCES'))?.exitCode).toBe(77);
  });
  it('leaves anything else to be reported as the bug it is', () => {
    expect(systemError(new TypeError('x is undefined'))).toBeUndefined();
    expect(systemError(errno('EINVAL'))).toBeUndefined();
    expect(systemError('a string')).toBeUndefined();
  });
});
