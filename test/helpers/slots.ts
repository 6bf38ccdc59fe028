/** Roots that say which release they are, sticks read back, and the CLI, for the update tests. */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { FatVolume } from '../../src/disk/fat.js';
import { SECTOR } from '../../src/disk/mbr.js';
import { probeStickImage } from '../../src/disk/probe.js';
import { makeDemoRoot } from '../../src/root/demo-root.js';
import { readSlots, type StickSlots } from '../../src/stick/read.js';
import { run } from '../../src/util/run.js';

export const CLI = join(import.meta.dirname, '../../bin/flashroot.js');
const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

export async function flashroot(args: string[], env: NodeJS.ProcessEnv = {}) {
  return run('node', [CLI, ...args], { okExitCodes: ANY_EXIT, timeoutMs: 300_000, env: { ...process.env, ...env } });
}

/**
 * A demo root whose init says its release, waits (up to 30 s) while its slot is on trial, so the
 * confirmation daemon has time to run, prints the slot state and powers off.
 */
export async function releaseRoot(dir: string, release: string): Promise<void> {
  await makeDemoRoot(
    dir,
    `#!/bin/sh
PATH=/bin:/sbin
export PATH
echo "flashroot-demo: root init reached (pid $$)"
echo "release ${release} running"
. /run/flashroot/slot.conf
i=0
while [ $i -lt 30 ] && grep -q "trial=$FR_SLOT tries" /run/flashroot/medium/live/slots; do sleep 1; i=$((i+1)); done
echo "release ${release} state: $(head -n 1 /run/flashroot/medium/live/slots)"
sync
poweroff -f
`,
  );
}

/** A root whose init never gets the system up: it reboots at once (a crash, then a watchdog reset). */
export async function brokenRoot(dir: string, release: string): Promise<void> {
  await makeDemoRoot(dir, `#!/bin/sh\necho "release ${release} is broken: rebooting"\n/bin/busybox reboot -f\n`);
}

export async function withFat<T>(image: string, f: (fat: FatVolume) => T): Promise<T> {
  const { fat: part } = await probeStickImage(image);
  const fat = await FatVolume.mount(image, part.startLba * SECTOR, part.sectors * SECTOR);
  try {
    return f(fat);
  } finally {
    fat.close();
  }
}

/**
 * What each loader boots on this stick, checked the way a boot would need it: the slot its default
 * line names has a manifest, and every file of it is on the FAT with its sha256.
 */
export async function bootableSlots(image: string): Promise<{ slots: StickSlots; boots: Record<string, string> }> {
  return withFat(image, (fat) => {
    const slots = readSlots(fat);
    const boots: Record<string, string> = {};
    for (const d of slots.defaults) {
      const m = d.slot && slots.manifests[d.slot];
      if (!d.slot || !m) {
        boots[d.line.loader] = `broken: default ${d.slot ?? '?'} has no manifest`;
        continue;
      }
      const bad = m.files.find((f) => !fat.exists(f.path) || createHash('sha256').update(fat.readFile(f.path)).digest('hex') !== f.sha256);
      boots[d.line.loader] = bad ? `broken: ${bad.path}` : d.slot;
    }
    return { slots, boots };
  });
}
