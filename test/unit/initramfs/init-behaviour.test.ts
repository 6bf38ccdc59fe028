import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initSandbox, type InitSandbox } from '../../helpers/init-sandbox.js';

let sb: InitSandbox;
beforeAll(async () => {
  sb = await initSandbox();
});

// A clock that advances one second per reading (kept in a file: the init reads it in a
// subshell), and no real sleeping or hardware.
const FAKE_CLOCK = `
fr_clock=$(mktemp); echo 100 >"$fr_clock"
fr_uptime() { read -r fr_t <"$fr_clock"; fr_t=$((fr_t + 1)); echo "$fr_t" >"$fr_clock"; echo "$fr_t"; }
sleep() { :; }
fr_coldplug_waiting() { fr_polls=$((fr_polls + 1)); }
`;
// Failure handling without a console or a power button.
const FAKE_FAIL_EXITS = `
sync() { :; }
poweroff() { echo "POWEROFF $*"; exit 42; }
fr_shell() { echo "SHELL: $1"; }
`;

describe('init: waiting for the stick', () => {
  it('gives up at the deadline, having coldplugged between polls', async () => {
    const r = await sb.run(`${FAKE_CLOCK}
findfs() { return 1; }
FR_TIMEOUT=5
if fr_find_medium; then echo found; else echo "gave up at $(cat "$fr_clock") after $fr_polls polls"; fi`);
    // Deadline = 101 + 5; each poll reads the clock once more, and coldplugs when it is not past.
    expect(r.stdout.trim()).toBe('gave up at 106 after 4 polls');
  });

  it('returns the device as soon as the label shows up', async () => {
    const r = await sb.run(`${FAKE_CLOCK}
findfs() { [ "$fr_polls" -ge 3 ] && [ "$1" = LABEL=FLASHROOT ] && echo /dev/sdb1; }
fr_find_medium && echo "found $FR_MEDIUM_DEV after $fr_polls polls"`);
    expect(r.stdout.trim()).toBe('found /dev/sdb1 after 3 polls');
  });

  it('finds a stick that is there while the background coldplug still runs, and the shell and the root wait for it', async () => {
    // A pass that takes a second (a CD-ROM's probe) and records what it saw.
    const r = await sb.run(`
fr_coldplug() { busybox sleep 1; FR_SEEN_ALIASES=" pci:cdrom "; echo "pass done"; }
modprobe() { :; }
fr_mount_modules() { :; }
FR_MODULES=; FR_SEEN_FILE=${sb.dir}/coldplug.seen
findfs() { echo /dev/sdb1; }
fr_step_modules
fr_find_medium && echo "found $FR_MEDIUM_DEV, pass running: $(fr_alive "$FR_COLDPLUG_PID" && echo yes)"
fr_coldplug_done; echo "seen:$FR_SEEN_ALIASES"
fr_coldplug_done; echo "again"`);
    expect(r.stdout.trim().split('\n')).toEqual(['found /dev/sdb1, pass running: yes', 'pass done', 'seen: pci:cdrom ', 'again']);
  });

  it("loads the steps' modules with one modprobe, and names the ones that did not load only in debug mode", async () => {
    const script = (debug: string) => `
modprobe() { echo "modprobe $*" >>${sb.dir}/modprobe-${debug}.log; case "$*" in *crc32c_intel*) return 1 ;; esac; }
fr_coldplug_pass() { :; }
fr_mount_modules() { :; }
FR_MODULES='fuse crc32c_intel loop'; FR_DRIVERS=; FR_DEBUG=${debug}; FR_SEEN_FILE=${sb.dir}/coldplug.seen
fr_step_modules; fr_coldplug_done; cat ${sb.dir}/modprobe-${debug}.log`;
    const quiet = await sb.run(script('0'));
    expect(quiet.stdout.trim().split('\n')).toEqual(['modprobe -qa fuse crc32c_intel loop']);
    const debug = await sb.run(script('1'));
    expect(debug.stdout).toContain('flashroot: debug: module crc32c_intel not loaded');
    expect(debug.stdout).not.toContain('module fuse not loaded');
  });

  it('does not coldplug a second time while the background pass runs, and does once it has ended', async () => {
    const r = await sb.run(`
fr_coldplug() { echo "foreground pass"; }
FR_SEEN_FILE=${sb.dir}/none.seen
busybox sleep 0.5 & FR_COLDPLUG_PID=$!
fr_coldplug_waiting; echo "while running"
busybox sleep 1; fr_coldplug_waiting`);
    expect(r.stdout.trim().split('\n')).toEqual(['while running', 'foreground pass']);
  });

  it('looks the stick up by FAT serial when flashroot.uuid is given', async () => {
    const r = await sb.run(`${FAKE_CLOCK}
findfs() { echo "asked $1" >&2; [ "$1" = UUID=1234-ABCD ] && echo /dev/sdc1; }
fr_parse_cmdline "flashroot.uuid=1234-ABCD"; fr_find_medium && echo "$FR_MEDIUM_DEV"`);
    expect(r.stdout.trim()).toBe('/dev/sdc1');
  });

  it('fails the medium step with the label, the timeout and a hint, then powers off when asked', async () => {
    const r = await sb.run(`${FAKE_CLOCK}${FAKE_FAIL_EXITS}
findfs() { return 1; }
fr_parse_cmdline "flashroot.onfail=poweroff flashroot.timeout=2 flashroot.label=OTHER"
fr_step_medium; echo "not reached"`);
    expect(r.stdout).toContain('flashroot: FAIL medium: no device with LABEL=OTHER after 2s — plug the stick in');
    expect(r.stdout).toContain('POWEROFF -f');
    expect(r.stdout).not.toContain('not reached');
    expect(r.exitCode).toBe(42);
  });

  it('offers the rescue shell before powering off when onfail=shell', async () => {
    const r = await sb.run(`${FAKE_FAIL_EXITS}
fr_fail lower "cannot mount it" "reflash"`);
    expect(r.stdout.split('\n').slice(0, 3)).toEqual([
      'flashroot: FAIL lower: cannot mount it — reflash',
      "SHELL: rescue shell (boot failed at step 'lower')",
      'flashroot: powering off',
    ]);
  });
});

describe('init: coldplug', () => {
  it("loads a network lower's NIC drivers by the class of the PCI devices there are, once, and none for a device that has its driver", async () => {
    const pci = join(sb.dir, 'pci');
    const dev = async (name: string, cls: string, alias: string) => {
      await mkdir(join(pci, name), { recursive: true });
      await writeFile(join(pci, name, 'class'), `${cls}\n`);
      await writeFile(join(pci, name, 'modalias'), `${alias}\n`);
    };
    await dev('0000:00:03.0', '0x0c0330', 'pci:v00001B36d0000000Dsv0000sd0000bc0Csc03i30');
    await dev('0000:00:04.0', '0x020000', 'pci:v00008086d0000100Esv0000sd0000bc02sc00i00');
    await dev('0000:00:05.0', '0x028000', 'pci:v000010ECd00008168sv0000sd0000bc02sc80i00');
    // A virtio NIC: its PCI function's driver (virtio_pci) makes a virtio device of type 1; a virtio disk (type 2) is not a NIC.
    await dev('0000:00:06.0', '0x020000', 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00');
    // A NIC whose driver is bound already (a virtio NIC's PCI function, which the background pass binds): no modprobe for it.
    await dev('0000:00:07.0', '0x020000', 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00-bound');
    await mkdir(join(sb.dir, 'drivers/virtio-pci'), { recursive: true });
    await symlink('../../drivers/virtio-pci', join(pci, '0000:00:07.0', 'driver'));
    const virtio = join(sb.dir, 'virtio');
    const r = await sb.run(`
modprobe() {
	echo "modprobe $*"
	case "$*" in *v00001AF4d00001000*) mkdir -p ${virtio}/virtio0 ${virtio}/virtio1; echo virtio:d00000001v00001AF4 >${virtio}/virtio0/modalias; echo virtio:d00000002v00001AF4 >${virtio}/virtio1/modalias; mkdir -p ${virtio}/virtio2/driver; echo virtio:d00000001v00001AF4-bound >${virtio}/virtio2/modalias ;; esac
}
FR_PCI_DEVICES=${pci} FR_VIRTIO_DEVICES=${virtio}
fr_coldplug_nics; fr_coldplug_nics; echo "seen:$FR_SEEN_ALIASES"`);
    expect(r.stdout.trim().split('\n')).toEqual([
      'modprobe -qa pci:v00008086d0000100Esv0000sd0000bc02sc00i00 pci:v000010ECd00008168sv0000sd0000bc02sc80i00 pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00',
      'modprobe -qa virtio:d00000001v00001AF4',
      'seen: pci:v00008086d0000100Esv0000sd0000bc02sc00i00  pci:v000010ECd00008168sv0000sd0000bc02sc80i00  pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00  virtio:d00000001v00001AF4',
    ]);
  });
});

describe('init: the modules image', () => {
  it('fails with one line when the running kernel is not the one the initramfs holds modules for', async () => {
    const r = await sb.run(`${FAKE_FAIL_EXITS}
fr_parse_cmdline "flashroot.onfail=poweroff"
FR_MODULES_DIR=${sb.dir}/lib/modules/0.0.0-other; fr_mount_modules; echo "not reached"`);
    expect(r.stdout).toMatch(/flashroot: FAIL modules: this initramfs holds modules for .*, not for the running kernel \S+ — boot the kernel this initramfs was built with/);
    expect(r.stdout).not.toContain('not reached');
  });

  it('says why when the image does not mount', async () => {
    const r = await sb.run(`${FAKE_FAIL_EXITS}
fr_parse_cmdline "flashroot.onfail=poweroff"
modprobe() { :; }
mount() { echo "mount: mounting /dev/loop0 on $5 failed: No such device" >&2; return 1; }
FR_SEEN_FILE=${sb.dir}/coldplug.seen; FR_MODULES_DIR=${sb.dir}; fr_mount_modules; echo "not reached"`);
    expect(r.stdout).toContain("flashroot: FAIL modules: cannot mount the initramfs's modules /lib/flashroot/modules.sqfs: mount: mounting /dev/loop0 on");
    expect(r.stdout).toContain('— the kernel needs squashfs and loop');
  });
});

describe('init: lower layer', () => {
  it('refuses an unknown or malformed lower kind with a FAIL line', async () => {
    const unknown = await sb.run(`${FAKE_FAIL_EXITS}
mkdir() { :; }  # the step would create /run/flashroot/lower on this host
FR_ONFAIL=poweroff; FR_LOWER=pigeon://loft/root.sqfs; fr_step_lower`);
    expect(unknown.stdout).toContain("flashroot: FAIL lower: this initramfs has no support for lower layer 'pigeon'");
    const malformed = await sb.run(`${FAKE_FAIL_EXITS}
mkdir() { :; }
FR_ONFAIL=poweroff; FR_LOWER='rm -rf'; fr_step_lower`);
    expect(malformed.stdout).toContain("flashroot: FAIL lower: unknown lower layer 'rm -rf'");
  });

  it('break points drop to a shell, then the boot continues', async () => {
    const r = await sb.run(`${FAKE_FAIL_EXITS}
fr_parse_cmdline "flashroot.break=premount"; fr_break_point premount; echo continued; fr_break_point preswitch; echo done`);
    expect(r.stdout.trim().split('\n')).toEqual(["SHELL: break point 'premount' (flashroot.break=premount)", 'continued', 'done']);
  });

  it('toram: copies when the image fits, and falls back (or fails when strict) when it does not', async () => {
    const img = join(sb.dir, 'root.sqfs');
    await writeFile(img, Buffer.alloc(3 * 1024 * 1024, 1));
    const tooLittle = `fr_mem_available_kib() { echo 66000; }`;
    const r = await sb.run(`${tooLittle}
fr_copy_to_ram ${img} || echo "fallback"`);
    expect(r.stdout).toContain('flashroot: toram: the root image needs 3 MiB plus 64 MiB to spare, but only 64 MiB of RAM is available');
    expect(r.stdout).toContain('fallback');
    const strict = await sb.run(`${tooLittle}${FAKE_FAIL_EXITS}
mkdir -p ${sb.dir}/medium/live && cp ${img} ${sb.dir}/medium/live/root.sqfs
fr_img_dir=${sb.dir}/medium
FR_ONFAIL=poweroff FR_TORAM=strict
fr_copy_to_ram ${img} || fr_fail lower "the root image does not fit in RAM (flashroot.toram=strict)" "boot without flashroot.toram"`);
    expect(strict.stdout).toContain('flashroot: FAIL lower: the root image does not fit in RAM (flashroot.toram=strict)');
  });

  it('verify: passes a matching image and fails a modified one with both hashes', async () => {
    const img = join(sb.dir, 'verify.sqfs');
    await writeFile(img, 'squashfs bytes');
    const good = await sb.run(`${FAKE_FAIL_EXITS}
FR_SQFS_SHA256=$(sha256sum ${img} | cut -d' ' -f1); fr_verify_image ${img}`);
    expect(good.stdout).toContain('flashroot: verify: sha256 ok');
    const bad = await sb.run(`${FAKE_FAIL_EXITS}
FR_ONFAIL=poweroff; fr_verify_image ${img}`);
    expect(bad.stdout).toMatch(/flashroot: FAIL verify: \/live\/root.sqfs has sha256 [0-9a-f]{64}, expected (ab){32} — the stick is damaged or was modified: reflash it/);
    expect(bad.exitCode).toBe(42);
  });
});
