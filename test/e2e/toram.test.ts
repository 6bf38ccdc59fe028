import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bootImage, STICK_DEVICE_ID } from '../../src/qemu/boot.js';
import { QmpClient, unplugDevice } from '../../src/qemu/qmp.js';
import { makeDemoRoot } from '../../src/root/demo-root.js';
import { BOOT_FAILURES, buildDemo } from '../helpers/demo.js';

// Waits for the stick to vanish, then reads a file it has never read: only a root in RAM can.
const PULL_TEST_INIT = `#!/bin/sh
PATH=/bin:/sbin
echo "toram-test: root init reached"
sed 's/^/toram-test: state /' /run/flashroot/state
i=0
while [ -e /sys/block/sda ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /sys/block/sda ] && echo "toram-test: the stick is still there" || echo "toram-test: the stick is gone"
echo "toram-test: read $(md5sum </data/never-read-before | cut -c1-32)"
poweroff -f
`;

async function rootWith(init: string, dataBytes: number): Promise<{ dir: string; md5: string }> {
  const dir = join(await mkdtemp(join(tmpdir(), 'toram-root-')), 'root');
  await makeDemoRoot(dir, init);
  const data = randomBytes(dataBytes);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'data/never-read-before'), data);
  return { dir, md5: createHash('md5').update(data).digest('hex') };
}

describe('toram', () => {
  it('runs the root from RAM: the stick is pulled out of the running machine and files still read', async () => {
    const root = await rootWith(PULL_TEST_INIT, 4 << 20);
    const built = await buildDemo({ root: root.dir, demo: false, boot: 'bios', toram: '1' });
    const qmpSocket = join(await mkdtemp(join(tmpdir(), 'qmp-')), 'qmp.sock');
    let pulled: Promise<void> | undefined;
    const r = await bootImage({
      image: built.image,
      qmpSocket,
      expect: 'toram-test: read',
      failOn: BOOT_FAILURES,
      timeoutSec: 300,
      graceMs: 1000,
      onLine: (line) => {
        if (!pulled && line.includes('toram-test: root init reached')) {
          pulled = QmpClient.connect(qmpSocket).then(async (qmp) => {
            await unplugDevice(qmp, STICK_DEVICE_ID);
            qmp.close();
          });
        }
      },
    });
    await pulled;
    const text = r.console.join('\n');
    expect(text).toContain('flashroot: toram: the root runs from RAM; the stick can be removed');
    expect(text).toContain('toram-test: state in_ram=yes');
    expect(text).toContain('toram-test: the stick is gone');
    expect(text).toContain(`toram-test: read ${root.md5}`);
  });

  it('falls back to the stick, saying so, when the image does not fit in RAM', async () => {
    // 200 MiB of incompressible data cannot be copied into a 320 MiB machine with room to spare.
    const root = await rootWith(PULL_TEST_INIT.replace('while', 'while false &&'), 200 << 20);
    const built = await buildDemo({ root: root.dir, demo: false, boot: 'bios', toram: '1', comp: 'lz4' });
    const r = await bootImage({ image: built.image, memoryMiB: 320, expect: 'toram-test: read', failOn: BOOT_FAILURES, timeoutSec: 300, graceMs: 1000 });
    const text = r.console.join('\n');
    expect(text).toMatch(/flashroot: toram: the root image needs 20\d MiB plus \d+ MiB to spare, but only \d+ MiB of RAM is available/);
    expect(text).toContain('flashroot: toram: running from the stick instead');
    expect(text).toContain('toram-test: state in_ram=no');
    expect(text).toContain(`toram-test: read ${root.md5}`);
  });
});
