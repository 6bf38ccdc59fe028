import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initSandbox, type InitSandbox } from '../../helpers/init-sandbox.js';

let sb: InitSandbox;
const NIC_ALIAS = 'pci:v00008086d0000100Esv0000sd0000bc02sc00i00';
beforeAll(async () => {
  sb = await initSandbox();
  // The box's one network controller, in a sysfs of the sandbox's own.
  const nic = join(sb.dir, 'pci', '0000:00:03.0');
  await mkdir(nic, { recursive: true });
  await writeFile(join(nic, 'class'), '0x020000\n');
  await writeFile(join(nic, 'modalias'), `${NIC_ALIAS}\n`);
});

// One second per clock reading, sleeping only moves the clock, and the files the fragments write kept here.
const FAKES = () => `
fr_clock=$(mktemp); echo 100 >"$fr_clock"
fr_uptime() { read -r fr_t <"$fr_clock"; fr_t=$((fr_t + 1)); echo "$fr_t" >"$fr_clock"; echo "$fr_t"; }
sleep() { read -r fr_t <"$fr_clock"; echo $((fr_t + $1)) >"$fr_clock"; }
sync() { :; }
poweroff() { echo "POWEROFF $*"; exit 42; }
FR_RESOLV=${join(sb.dir, 'resolv.conf')}
FR_NET_ERR=${join(sb.dir, 'net.err')}
FR_DHCP_LOG=${join(sb.dir, 'udhcpc.log')}
ifconfig() { echo "ifconfig $*"; }
route() { echo "route $*"; }
FR_PCI_DEVICES=${join(sb.dir, 'pci')} FR_VIRTIO_DEVICES=${join(sb.dir, 'virtio')}
modprobe() { :; }
fr_net_iface() { echo eth1; }
fr_coldplug_waiting() { :; }
`;

describe('init: network bring-up', () => {
  it('configures a static ip= in the kernel format, without DHCP', async () => {
    const r = await sb.run(`${FAKES()}
udhcpc() { echo "udhcpc called"; }
fr_parse_cmdline "ip=10.0.0.5::10.0.0.1:255.255.255.0::eth1::10.0.0.53"
fr_step_network; cat "$FR_RESOLV"`, { lower: 'http://10.0.0.2/root.sqfs' });
    expect(r.stdout.trim().split('\n')).toEqual([
      'ifconfig lo 127.0.0.1 up',
      'ifconfig eth1 10.0.0.5 netmask 255.255.255.0 up',
      'route add default gw 10.0.0.1 dev eth1',
      'flashroot: network eth1 10.0.0.5/255.255.255.0 via 10.0.0.1 dns 10.0.0.53 (ip=)',
      'nameserver 10.0.0.53',
    ]);
  });

  it("loads the NIC's driver itself, so the interface is there without waiting for the background pass", async () => {
    const r = await sb.run(`${FAKES()}
modprobe() { echo "modprobe $*"; : >${join(sb.dir, 'eth1')}; }
fr_net_iface() { [ -e ${join(sb.dir, 'eth1')} ] && echo eth1; }
fr_coldplug_waiting() { echo "waiting for the pass"; }
fr_parse_cmdline "ip=10.0.0.5::10.0.0.1:255.255.255.0::eth1::10.0.0.53"
fr_step_network`, { lower: 'http://10.0.0.2/root.sqfs' });
    expect(r.stdout.trim().split('\n').slice(0, 2)).toEqual([`modprobe -qa ${NIC_ALIAS}`, 'ifconfig lo 127.0.0.1 up']);
  });

  it('does nothing for a local lower', async () => {
    const r = await sb.run(`${FAKES()}
fr_step_network; echo done`);
    expect(r.stdout.trim()).toBe('done');
  });

  it('retries DHCP until the deadline, then fails with its last message', async () => {
    const r = await sb.run(`${FAKES()}
udhcpc() { echo "udhcpc: no lease, failing"; return 1; }
FR_ONFAIL=poweroff FR_TIMEOUT=3
fr_step_network`, { lower: 'http://10.0.0.2/root.sqfs' });
    expect(r.stdout).toContain('flashroot: no DHCP lease on eth1 yet; retrying');
    expect(r.stdout).toContain('flashroot: FAIL network: no DHCP lease on eth1 after 3s: udhcpc: no lease, failing — check the network has a DHCP server');
    expect(r.exitCode).toBe(42);
  });
});

describe("init: a NIC whose driver the build left to the stick", () => {
  const STICK_DRIVERS = '/live/drivers-0123456789abcdef.sqfs';
  const STUBS = () => `
fr_mount_medium() { echo "mount the stick"; }
fr_with_modules_image() { echo "with $*"; }
umount() { echo "umount $*"; }
udhcpc() { echo "flashroot: network eth1 (dhcp)"; }
`;

  it("mounts the stick, loads the unbound controller's alias with the stick's image stacked, and unmounts the stick again", async () => {
    const r = await sb.run(`${FAKES()}${STUBS()}
fr_step_network`, { lower: 'http://10.0.0.2/root.sqfs', stickDrivers: STICK_DRIVERS });
    expect(r.stdout.trim().split('\n').slice(0, 4)).toEqual([
      `flashroot: no driver in the initramfs for the network controller at 0000:00:03.0: loading it from the stick (${STICK_DRIVERS})`,
      'mount the stick',
      `with /run/flashroot/medium${STICK_DRIVERS} modprobe -qa ${NIC_ALIAS}`,
      'umount -l /run/flashroot/medium',
    ]);
  });

  it('reads nothing from the stick when a driver of the initramfs took every Ethernet controller (Wi-Fi is not looked for)', async () => {
    const pci = join(sb.dir, 'pci-bound');
    for (const [dev, cls] of [['0000:00:03.0', '0x020000'], ['0000:00:04.0', '0x028000']] as const) {
      await mkdir(join(pci, dev), { recursive: true });
      await writeFile(join(pci, dev, 'class'), `${cls}\n`);
      await writeFile(join(pci, dev, 'modalias'), `${NIC_ALIAS}\n`);
    }
    await mkdir(join(pci, '0000:00:03.0', 'driver'));
    const r = await sb.run(`${FAKES()}${STUBS()}
FR_PCI_DEVICES=${pci}
fr_step_network`, { lower: 'http://10.0.0.2/root.sqfs', stickDrivers: STICK_DRIVERS });
    expect(r.stdout).not.toContain('mount the stick');
    expect(r.stdout).toContain('flashroot: network eth1 (dhcp)');
  });

  it('fails with one line when the image on the stick does not mount', async () => {
    const r = await sb.run(`${FAKES()}${STUBS()}
fr_with_modules_image() { return 1; }
FR_ONFAIL=poweroff
fr_step_network`, { lower: 'http://10.0.0.2/root.sqfs', stickDrivers: STICK_DRIVERS });
    expect(r.stdout).toContain(`flashroot: FAIL network: cannot mount the stick's drivers ${STICK_DRIVERS} — the stick may be damaged: write it again with flashroot write`);
    expect(r.exitCode).toBe(42);
  });

  it('stacks the image over the modules as an overlay for the command only, and lets go of both lazily', async () => {
    const r = await sb.run(`
mkdir() { :; }
mount() { echo "mount $*"; }
umount() { echo "umount $*"; }
FR_MODULES_DIR=/lib/modules/6.1.0-test
fr_with_modules_image /run/flashroot/medium${STICK_DRIVERS} echo loading; echo "rc $?"`);
    expect(r.stdout.trim().split('\n')).toEqual([
      `mount -t squashfs -o ro,loop /run/flashroot/medium${STICK_DRIVERS} /run/flashroot/modules-extra`,
      'mount -t overlay -o ro,lowerdir=/run/flashroot/modules-extra:/lib/modules/6.1.0-test overlay /lib/modules/6.1.0-test',
      'loading',
      'umount -l /lib/modules/6.1.0-test',
      'umount -l -d /run/flashroot/modules-extra',
      'rc 0',
    ]);
  });
});

describe("init: the client's layer", () => {
  it('is mounted and read ahead before the wait for the NIC, once, and the runtime root waits for the read', async () => {
    const r = await sb.run(`${FAKES()}
FR_NET_LAYER=${join(sb.dir, 'net-layer.sqfs')}; : >"$FR_NET_LAYER"
FR_NET_RAM=${join(sb.dir, 'net')}; FR_NET_LAYER_MNT=$FR_NET_RAM/layer; FR_RT=${join(sb.dir, 'rt')}
mount() { echo "mount $2"; }
cp() { :; }
mknod() { :; }
fr_net_prefetch() { busybox sleep 0.3; echo "read ahead"; }
fr_parse_cmdline "ip=10.0.0.5::10.0.0.1:255.255.255.0::eth1::10.0.0.53"
fr_step_network
fr_net_runtime; echo "runtime root up"`, { lower: 'https://10.0.0.2/root.sqfs' });
    expect(r.stdout.trim().split('\n')).toEqual([
      'mount tmpfs',
      'mount squashfs',
      `flashroot: network layer ${join(sb.dir, 'net-layer.sqfs')} (0 MiB)`,
      'ifconfig lo 127.0.0.1 up',
      'ifconfig eth1 10.0.0.5 netmask 255.255.255.0 up',
      'route add default gw 10.0.0.1 dev eth1',
      'flashroot: network eth1 10.0.0.5/255.255.255.0 via 10.0.0.1 dns 10.0.0.53 (ip=)',
      'read ahead',
      'mount overlay',
      'runtime root up',
    ]);
  });
});

describe('init: reaching the server', () => {
  it('backs off 1, 2, 4, 8… s, says so with the error and the time left, and gives up at the deadline', async () => {
    const r = await sb.run(`${FAKES()}
FR_TIMEOUT=20
fr_net_retry "reach it" sh -c 'printf "GET: connect: Connection refused\\001\\r\\n" >&2; exit 1' || echo "gave up: $FR_NET_ERROR"`);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('flashroot: cannot reach it (try 1: GET: connect: Connection refused); retrying in 1s, giving up in 19s');
    expect(lines.map((l) => /retrying in (\d+)s/.exec(l)?.[1]).filter(Boolean)).toEqual(['1', '2', '4', '8']);
    expect(lines.at(-1)).toBe('gave up: GET: connect: Connection refused');
  });

  it('counts the timeout from the first failure: a first try slower than the whole timeout still gets retries', async () => {
    const r = await sb.run(`${FAKES()}
FR_TIMEOUT=12
slow() { sleep 30; echo "AccessDenied" >&2; return 1; }
fr_net_retry "reach it" slow || echo "gave up: $FR_NET_ERROR"`);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('flashroot: cannot reach it (try 1: AccessDenied); retrying in 1s, giving up in 11s');
    expect(lines.at(-1)).toBe('gave up: AccessDenied');
  });

  it('stops retrying as soon as the command succeeds', async () => {
    const r = await sb.run(`${FAKES()}
n=0; flaky() { n=$((n + 1)); [ "$n" -ge 3 ]; }
fr_net_retry "reach it" flaky && echo "up after $n tries"`);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('up after 3 tries');
  });
});

describe('init: waiting for a client to be ready', () => {
  // The real pause (a FIFO read, no fork) in the sandbox, and the fake clock of FAKES.
  const NAP = () => `FR_NAP_FIFO=${join(sb.dir, 'nap')}`;

  it('returns once the readiness test passes, while the client runs on', async () => {
    const r = await sb.run(`${FAKES()}${NAP()}
ready=${join(sb.dir, 'ready')}; rm -f "$ready"
busybox sh -c "busybox sleep 0.3; : >$ready; busybox sleep 5" &
pid=$!
fr_client_ready client "$pid" 1000 "get ready" [ -e "$ready" ] && echo "ready"
fr_alive "$pid" && echo "still running"; kill "$pid"`);
    expect(r.stdout.trim().split('\n')).toEqual(['ready', 'still running']);
  });

  it('says so when the client exits first', async () => {
    const r = await sb.run(`${FAKES()}${NAP()}
busybox sh -c 'exit 3' &
fr_client_ready client $! 1000 "get ready" false || echo "failed"`);
    expect(r.stdout.trim().split('\n')).toEqual(['client exited (its messages are above)', 'failed']);
  });

  it('gives up at the deadline and ends the client, so that a retry starts afresh', async () => {
    const r = await sb.run(`${FAKES()}${NAP()}
busybox sleep 30 &
pid=$!
fr_client_ready client "$pid" 3 "open its socket" false || echo "failed"
busybox sleep 0.2; fr_alive "$pid" || echo "ended"`);
    expect(r.stdout.trim().split('\n')).toEqual(['client did not open its socket within 3 s', 'failed', 'ended']);
  });
});
