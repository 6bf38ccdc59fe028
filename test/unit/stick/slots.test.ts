import { describe, expect, it } from 'vitest';
import { grubCfg } from '../../../src/boot/shim.js';
import { renderSyslinuxCfg } from '../../../src/boot/syslinux.js';
import { loaderConf, slotMenu } from '../../../src/boot/systemd-boot.js';
import { grubEntries, syslinuxEntries } from '../../../src/inspect/inspect.js';
import { SLOTS } from '../../../src/stick/paths.js';
import { DEFAULT_LINES, defaultLine, defaultSlotOf, MAX_TRIES, parseState, renderState, stateLine, STATE_SECTOR, type SlotState } from '../../../src/stick/slots.js';

const menu = { name: 'demo', cmdline: 'console=ttyS0', rescueCmdline: 'flashroot.shell', timeoutSeconds: 0 };

describe('slot state', () => {
  const states: SlotState[] = [
    { current: 'a', tries: 0, of: 0 },
    { current: 'a', trial: 'b', tries: 3, of: 3 },
    { current: 'b', trial: 'a', tries: 0, of: MAX_TRIES },
  ];

  it('is one sector whose first line reads back as it was written', () => {
    for (const s of states) {
      const sector = renderState(s);
      expect(sector.length).toBe(STATE_SECTOR);
      expect(parseState(sector)).toEqual(s);
    }
  });

  it('keeps its line the same length in every state, so a rewrite never moves a byte it does not change', () => {
    expect(new Set(states.map((s) => stateLine(s).length)).size).toBe(1);
    expect(stateLine(states[1]!)).toBe('flashroot-slots 1 current=a trial=b tries=3 of=3');
  });

  it('refuses what it cannot keep one digit wide, and lines of another shape', () => {
    expect(() => stateLine({ current: 'a', trial: 'b', tries: 10, of: 10 })).toThrow(/tries=10/);
    expect(() => parseState('flashroot-slots 1 current=c trial=- tries=0 of=0')).toThrow(/not in the form/);
    expect(() => parseState('')).toThrow(/not in the form/);
  });
});

describe('loader configs', () => {
  it("start with the default line, the same length for either slot, and list every slot's entries", async () => {
    const configs = { syslinux: await renderSyslinuxCfg(menu, 'b'), grub: grubCfg(menu, 'b'), 'systemd-boot': loaderConf('flashroot-b.efi', 0) };
    for (const d of DEFAULT_LINES) {
      expect(defaultLine(d, 'a').length).toBe(defaultLine(d, 'b').length);
      expect(configs[d.loader].split('\n')[0]).toBe(defaultLine(d, 'b'));
      expect(defaultSlotOf(d, configs[d.loader])).toBe('b');
    }
    const sys = syslinuxEntries(configs.syslinux);
    expect(sys.map((e) => e.cmdline)).toEqual(SLOTS.flatMap((s) => [`console=ttyS0 flashroot.slot=${s}`, `console=ttyS0 flashroot.slot=${s} flashroot.shell`]));
    expect(grubEntries(configs.grub).map((e) => e.cmdline)).toEqual(sys.map((e) => e.cmdline));
    expect(configs.grub).toMatch(/^menuentry 'Boot demo, slot b \(root in a RAM overlay\)' --id slot-b \{\n\tlinux \/boot\/vmlinuz-b /m);
    expect(configs.syslinux).toMatch(/^LABEL slot-b\n.*\n {2}LINUX \/boot\/vmlinuz-b\n {2}INITRD \/boot\/initrd-b.img$/m);
  });

  it("names each slot's UKIs by the slot, with the slot on their command line", () => {
    expect(slotMenu('b', 'demo', 'flashroot.shell')).toEqual([
      { id: 'flashroot-b', title: 'demo, slot b', extraCmdline: 'flashroot.slot=b' },
      { id: 'flashroot-b-rescue', title: 'demo, slot b (rescue shell)', extraCmdline: 'flashroot.slot=b flashroot.shell' },
    ]);
  });
});
