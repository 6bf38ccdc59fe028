import { describe, expect, it } from 'vitest';
import { qemuArgs } from '../../../src/qemu/boot.js';

describe('the QEMU command line', () => {
  it('gives the guest the virtual CPUs asked for, and QEMU its default of one otherwise', () => {
    const args = qemuArgs({ image: 'stick.img', timeoutSec: 10, cpus: 2 });
    expect(args[args.indexOf('-smp') + 1]).toBe('2');
    expect(qemuArgs({ image: 'stick.img', timeoutSec: 10 })).not.toContain('-smp');
  });
});
