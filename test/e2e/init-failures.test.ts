import { open } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { bootImage } from '../../src/qemu/boot.js';
import { DEMO_MARKER } from '../../src/root/demo-root.js';
import { buildDemo, sha256 } from '../helpers/demo.js';

/** Offset of the squashfs inside the image: its superblock starts a FAT cluster ("hsqs", major 4). */
async function squashfsOffset(image: string): Promise<number> {
  const fh = await open(image, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let base = 0; ; base += buf.length) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, base);
      if (bytesRead === 0) throw new Error('no squashfs in the image');
      for (let o = 0; o + 32 <= bytesRead; o += 512) {
        if (buf.toString('latin1', o, o + 4) === 'hsqs' && buf.readUInt16LE(o + 28) === 4) return base + o;
      }
    }
  } finally {
    await fh.close();
  }
}

describe('the init fails clearly, never with a kernel panic', () => {
  it('a corrupted root image with verification on: FAIL verify, then powers off', async () => {
    const built = await buildDemo({ boot: 'bios', verify: true, onfail: 'poweroff' });
    const at = (await squashfsOffset(built.image)) + Math.floor(built.squashfsBytes / 2);
    const fh = await open(built.image, 'r+');
    await fh.write(Buffer.from('corrupted by the test'), 0, 21, at);
    await fh.close();
    const r = await bootImage({ image: built.image, expect: 'flashroot: FAIL', timeoutSec: 300, graceMs: 20_000 });
    const text = r.console.join('\n');
    expect(text).toMatch(new RegExp(`flashroot: FAIL verify: ${built.squashfsPath} has sha256 [0-9a-f]{64}, expected ${built.squashfsSha256} — the stick is damaged or was modified: reflash it`));
    expect(text).toContain('flashroot: powering off');
    expect(text).not.toContain(DEMO_MARKER);
    expect(text).not.toMatch(/Kernel panic/);
    // It powered itself off: QEMU ended before the grace period did.
    expect(r.timedOut).toBe(false);
  });

  it('a wrong label: FAIL medium after the timeout, and the rescue shell answers', async () => {
    const built = await buildDemo({ boot: 'bios', cmdline: 'flashroot.label=WRONG flashroot.timeout=3' });
    const before = await sha256(built.image);
    let typed = false;
    const r = await bootImage({
      image: built.image,
      writable: true,
      expect: 'rescue-shell-42',
      timeoutSec: 300,
      graceMs: 0,
      onLine: (line, type) => {
        if (!typed && line.includes("flashroot: type 'exit' to power off")) {
          typed = true;
          // Arithmetic the shell must do, so the echo of our typing cannot match.
          setTimeout(() => type('echo rescue-shell-$((6*7))\n'), 1000);
        }
      },
    });
    const text = r.console.join('\n');
    expect(text).toContain('flashroot: FAIL medium: no device with LABEL=WRONG after 3s — plug the stick in');
    expect(text).toContain("flashroot: rescue shell (boot failed at step 'medium')");
    expect(r.matched, text).toBe(true);
    expect(text).not.toMatch(/Kernel panic/);
    expect(await sha256(built.image)).toBe(before);
  });
});
