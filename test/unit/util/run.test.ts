import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { forwardLines, run } from '../../../src/util/run.js';
import { CommandError, ToolMissingError } from '../../../src/errors.js';

describe('forwardLines', () => {
  it('keeps a UTF-8 character whole when a chunk boundary splits it, and treats \\r as a line end', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    forwardLines(stream, (l) => lines.push(l));
    const bytes = Buffer.from('FAIL x — hint\r50%\nlast');
    const cut = bytes.indexOf(0xe2) + 1; // inside the three bytes of the em dash
    stream.write(bytes.subarray(0, cut));
    stream.write(bytes.subarray(cut));
    stream.end();
    await new Promise((r) => stream.on('end', r));
    expect(lines).toEqual(['FAIL x — hint', '50%', 'last']);
  });
});

describe('run', () => {
  it('names a program that is not installed, with its package', async () => {
    await expect(run('mksquashfs-not-here', [])).rejects.toBeInstanceOf(ToolMissingError);
  });

  it('says how a program failed, with the tail of its stderr', async () => {
    const err = await run('sh', ['-c', 'echo one >&2; echo two >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).message).toBe("Command failed with exit code 3: sh -c 'echo one >&2; echo two >&2; exit 3'\none\ntwo");
  });
});
