import type { Command } from 'commander';
import type { SavesAreaReport } from '../../stick/saves-area.js';
import type { CopyAreaReport } from '../../stick/channel-copy.js';
import type { RegisterCommand } from './index.js';

function savesLines(s: SavesAreaReport, formatBytes: (n: number) => string): string[] {
  if (!s.superblock) return [`saves (partition 2, ${formatBytes(s.bytes)}): no superblock: not a flashroot saves area, or damaged (the stick boots without saves)`];
  const sb = s.superblock;
  return [
    `saves (partition 2, ${formatBytes(s.bytes)}): ${sb.slots} slots of ${formatBytes(sb.slotBytes)}, for disk ${sb.disk}${s.identityMatches ? '' : " (NOT this image's disk signature: the init will not use it)"}`,
    ...s.slots.map((g) => {
      const h = g.header;
      const what = h ? `generation ${h.seq}, saved ${new Date(h.time * 1000).toISOString()}, ${formatBytes(h.length)}, sha256 ${h.sha256.slice(0, 16)}…` : g.seq !== undefined ? `generation ${g.seq}` : '';
      const state = { empty: 'empty', pending: 'incomplete (a save was interrupted)', damaged: 'damaged header', valid: 'checksum ok', 'bad-checksum': 'CHECKSUM MISMATCH', 'too-long': 'damaged (longer than its slot)' }[g.state];
      return `  slot ${g.slot}: ${[what, state].filter(Boolean).join(': ')}${g.seq !== undefined && g.seq === s.current ? ' (current)' : ''}`;
    }),
  ];
}

function copyLines(c: CopyAreaReport, formatBytes: (n: number) => string): string[] {
  if (!c.superblock) return [`offline copy (partition 2, ${formatBytes(c.bytes)}): damaged superblock (boots without the server fail)`];
  const sb = c.superblock;
  return [
    `offline copy (partition 2, ${formatBytes(c.bytes)}): ${sb.slots} slots of ${formatBytes(sb.slotBytes)}, for disk ${sb.disk}${c.identityMatches ? '' : " (NOT this image's disk signature: the init will not use it)"}`,
    ...c.slots.map((s) => {
      const h = s.header;
      const what = h
        ? `complete: channel ${h.channel} version ${h.version}, ${h.image}, ${formatBytes(h.bytes)}, copied ${new Date(h.time * 1000).toISOString()} (its signature is checked at each boot from it)`
        : { empty: 'empty', pending: `incomplete${s.version === undefined ? '' : ` copy of version ${s.version}`} (cut off: never booted)`, damaged: 'damaged header', complete: '' }[s.state];
      return `  slot ${s.slot}: ${what}${s.slot === c.newest ? ' (booted when the server cannot be reached)' : ''}`;
    }),
  ];
}

export const register: RegisterCommand = (program: Command) => {
  program
    .command('inspect')
    .description('Show what a built image holds: partition table, files, build manifest and boot entries.')
    .argument('<image>', 'image built by flashroot build')
    .option('--json', 'print as JSON')
    .action(async (image: string, opts: { json?: boolean }) => {
      const [{ inspectImage }, { formatBytes }] = await Promise.all([import('../../inspect/inspect.js'), import('../../util/log.js')]);
      const r = await inspectImage(image);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const lines = [
        `${r.image}: ${formatBytes(r.bytes)}, MBR disk signature 0x${r.mbr.diskSignature.toString(16).padStart(8, '0')}`,
        ...r.mbr.partitions.map((p, i) => `  partition ${i + 1}: type 0x${p.type.toString(16)}${p.active ? ' (active)' : ''}, start ${p.startLba * 512} B, ${formatBytes(p.sectors * 512)}`),
        'files:',
        ...r.files.map((f) => `  ${f.path.padEnd(40)} ${formatBytes(f.size)}`),
        ...(r.slots
          ? [
              'slots:',
              ...(r.slots.stateProblem ? [`  state unreadable: ${r.slots.stateProblem}`] : []),
              ...r.slots.slots.map(
                (s) =>
                  `  ${s.slot}: ${s.role.padEnd(12)} ${s.release ? `${s.release} (build ${s.buildId}, kernel ${s.kernel}, ${formatBytes(s.bytes ?? 0)})` : '-'}${
                    s.role === 'trial' || s.role === 'failed trial' ? `, ${r.slots?.state?.tries} of ${r.slots?.state?.of} tries left` : ''
                  }`,
              ),
              `  boots by default: ${r.slots.defaults.map((d) => `${d.loader} ${d.slot ?? '?'}`).join(', ')}`,
            ]
          : []),
        'boot entries:',
        ...r.entries.map((e) => `  [${e.loader}] ${e.name}\n      ${e.cmdline}`),
        ...(r.channelFloor ? [`channel ${r.channelFloor.channel}: this stick has booted up to version ${r.channelFloor.version} (rollback floor)`] : []),
        ...(r.saves ? savesLines(r.saves, formatBytes) : []),
        ...(r.offlineCopy ? copyLines(r.offlineCopy, formatBytes) : []),
        'manifest:',
        JSON.stringify(r.manifest, null, 2).replace(/^/gm, '  '),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
};
