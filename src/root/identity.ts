/**
 * Who the booted system is. `keep` moves this box onto a stick: machine-id, SSH host keys and
 * hostname stay, so its DHCP address, its journal's id and its clients' known_hosts still fit.
 * `reset` makes a master image for many boxes: systemd derives the DHCP DUID (and so the address)
 * from the machine-id, and clients trust a box by its host key, so no two boxes may share them.
 */
import type { LeaveOutRule } from './leave-out.js';

export const IDENTITY_MODES = ['keep', 'reset'] as const;
export type IdentityMode = (typeof IDENTITY_MODES)[number];

export const MACHINE_ID = 'etc/machine-id';

/** Per-box state a master image leaves out; each program recreates its own. */
export const RESET_LEAVE_OUT: readonly LeaveOutRule[] = [
  {
    rule: 'ssh-host-keys',
    patterns: ['etc/ssh/ssh_host_*'],
    why: 'every box must have its own SSH host keys, or clients could not tell the boxes apart',
  },
  {
    rule: 'dbus-machine-id',
    // Debian makes it a symlink to /etc/machine-id, which is kept; only a copy of the old id goes.
    patterns: ['var/lib/dbus/machine-id'],
    why: 'a copy of the machine-id; D-Bus falls back to /etc/machine-id',
  },
  {
    rule: 'random-seeds',
    patterns: ['var/lib/systemd/random-seed', 'var/lib/urandom/random-seed', 'var/lib/systemd/credential.secret'],
    why: 'boxes sharing a random seed or credential secret would share early randomness and could read each other’s encrypted credentials',
  },
  {
    rule: 'dhcp-leases',
    patterns: ['var/lib/dhcp/*', 'var/lib/NetworkManager/*.lease', 'var/lib/NetworkManager/secret_key'],
    why: "leases carry the DHCP client id (dhclient's default-duid) and NetworkManager derives stable addresses from its secret_key",
  },
  {
    rule: 'shell-history',
    patterns: ['root/.bash_history', 'home/*/.bash_history'],
    why: "the master's users' shell history is not for every box",
  },
];

/**
 * Debian's openssh-server generates host keys only in its postinst: sshd started without them
 * fails `sshd -t`. This unit makes the missing ones before sshd starts.
 */
export const SSH_KEYGEN_UNIT = {
  path: 'etc/systemd/system/flashroot-ssh-host-keys.service',
  content: [
    '# Added by flashroot (--identity reset): this image left out the SSH host keys so that',
    '# every box has its own; ssh-keygen -A makes the missing ones and leaves existing ones alone.',
    '[Unit]',
    "Description=Generate this box's SSH host keys",
    'ConditionPathExists=/usr/bin/ssh-keygen',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    'ExecStart=/usr/bin/ssh-keygen -A',
    '',
  ].join('\n'),
};

/** Debian 12's ssh.socket (Accept=no) starts ssh.service too, so one drop-in covers both ways in. */
export const SSH_KEYGEN_DROP_IN = {
  dir: 'etc/systemd/system/ssh.service.d',
  path: 'etc/systemd/system/ssh.service.d/flashroot-host-keys.conf',
  content: ['# Added by flashroot (--identity reset): host keys are generated at first start.', '[Unit]', 'Wants=flashroot-ssh-host-keys.service', 'After=flashroot-ssh-host-keys.service', ''].join('\n'),
};
