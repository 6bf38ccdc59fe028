import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QmpClient, QmpError, queryBlockstats, unplugDevice } from '../../../src/qemu/qmp.js';
import { run, type RunResult } from '../../../src/util/run.js';

// A real QEMU, stopped before the first instruction (-S): enough for QMP, no guest needed.
// Under `timeout` so a failed test cannot leave it running; it normally ends by our `quit`.
let dir: string;
let qemu: Promise<RunResult>;
let qmp: QmpClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmp-'));
  const stick = join(dir, 'stick.img');
  await writeFile(stick, '');
  await truncate(stick, 8 * 2 ** 20);
  const socket = join(dir, 'qmp.sock');
  qemu = run('timeout', ['60', 'qemu-system-x86_64', '-S', '-display', 'none', '-nodefaults', '-machine', 'q35',
    '-qmp', `unix:${socket},server,nowait`,
    '-drive', `file=${stick},if=none,id=stick,format=raw`, '-device', 'qemu-xhci', '-device', 'usb-storage,drive=stick,id=stickdev']);
  qmp = await QmpClient.connect(socket, { timeoutMs: 20_000 });
});

afterAll(async () => {
  await qmp?.execute('quit').catch(() => undefined);
  await qemu?.catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('QmpClient against a real QEMU', () => {
  it('negotiates capabilities and runs a command', async () => {
    expect(await qmp.execute('query-status')).toMatchObject({ running: false, status: 'prelaunch' });
  });

  it('reads the block statistics of the stick: nothing written yet', async () => {
    const stats = await queryBlockstats(qmp, 'stick');
    expect(stats).toMatchObject({ wr_bytes: 0, wr_operations: 0 });
  });

  it('names the devices it has when asked for an unknown one', async () => {
    await expect(queryBlockstats(qmp, 'nope')).rejects.toThrow(/no block device 'nope' \(have: .*stick/);
  });

  it('turns a QMP error into a QmpError with its class', async () => {
    const err = await qmp.execute('no-such-command').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpError);
    expect((err as QmpError).errorClass).toBe('CommandNotFound');
  });

  it('answers concurrent commands each with its own reply', async () => {
    const [status, stats, version] = await Promise.all([qmp.execute('query-status'), qmp.execute('query-blockstats'), qmp.execute<{ qemu: { major: number } }>('query-version')]);
    expect(status).toHaveProperty('status');
    expect(Array.isArray(stats)).toBe(true);
    expect(version.qemu.major).toBeGreaterThanOrEqual(7);
  });

  it('pulls the USB stick out (device_del) and sees DEVICE_DELETED', async () => {
    await unplugDevice(qmp, 'stickdev', 10_000);
    expect(qmp.events.some((e) => e.event === 'DEVICE_DELETED' && e.data?.device === 'stickdev')).toBe(true);
    await expect(qmp.execute('device_del', { id: 'stickdev' })).rejects.toMatchObject({ errorClass: 'DeviceNotFound' });
  });

  it('fails pending and later commands once QEMU has gone', async () => {
    // QEMU may reset the socket before or after its reply to 'quit': both are a clean quit.
    await qmp.execute('quit').catch(() => undefined);
    expect((await qemu).exitCode).toBe(0);
    await expect(qmp.execute('query-status')).rejects.toThrow(/QMP connection (closed|failed)/);
  });
});

describe('QmpClient.connect', () => {
  it('gives up with a hint when nothing listens', async () => {
    const err = await QmpClient.connect(join(tmpdir(), 'no-qemu-here.sock'), { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EQMP', hint: expect.stringMatching(/-qmp unix:PATH,server,nowait/) as unknown });
  });
});
