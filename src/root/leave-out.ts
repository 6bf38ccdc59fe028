/**
 * What the stick leaves out of every installed root by default, each rule with its reason. The
 * facts come from the established snapshot tools (mx-snapshot, refractasnapshot, antiX's
 * remaster), which drop caches the system rebuilds, backups of package databases, and state that
 * belongs to the disk rather than the system. Patterns as src/root/glob.ts reads them.
 */
import { contentsOf } from './glob.js';

export interface LeaveOutRule {
  /** Stable name in the summary and --json. */
  rule: string;
  patterns: readonly string[];
  why: string;
}

export const DEFAULT_LEAVE_OUT: readonly LeaveOutRule[] = [
  {
    rule: 'apt-archives',
    patterns: ['var/cache/apt/archives/*.deb', 'var/cache/apt/archives/partial/*'],
    why: "apt's downloaded packages: already installed, fetched again if ever needed",
  },
  { rule: 'apt-pkgcache', patterns: ['var/cache/apt/*.bin'], why: 'apt rebuilds its package caches from its lists on first use' },
  { rule: 'lost-found', patterns: ['lost+found'], why: "fsck's salvage directory belongs to the disk's filesystem, not to the system" },
  { rule: 'var-tmp', patterns: contentsOf('var/tmp'), why: 'temporary files of programs that ran on the source' },
  {
    rule: 'package-db-backups',
    patterns: ['var/lib/dpkg/*-old', 'var/cache/debconf/*-old'],
    why: "dpkg's and debconf's backup copies of their databases, rewritten on their next run",
  },
  {
    rule: 'persistent-net-rules',
    patterns: ['etc/udev/rules.d/70-persistent-net.rules', 'etc/udev/rules.d/70-persistent-cd.rules'],
    why: "old udev pinned interface names to this box's MAC addresses: another box's NIC would come up as eth1 and stay unconfigured",
  },
  {
    rule: 'journal',
    patterns: contentsOf('var/log/journal'),
    why: 'journald appends to its files, and overlayfs copies a file whole into RAM before the first write; it starts new ones',
  },
];

