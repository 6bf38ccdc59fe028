/**
 * The order the suite's files start in, on two workers: QEMU boots first, then the real-tool
 * integration tests, then the unit tests, so the short files fill the gaps at the end. vitest's own
 * order, kept within each tier, runs the longest first when it has timings from an earlier run; on
 * a fresh clone it has none and runs the largest files first, which put three one-line e2e files
 * (about 10 min of boots, test/helpers/net-image.ts) last and left one worker idle at the end.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const TIERS = ['/test/e2e/', '/test/integration/'];

const tier = (spec: TestSpecification): number => {
  const i = TIERS.findIndex((dir) => spec.moduleId.includes(dir));
  return i < 0 ? TIERS.length : i;
};

export class SuiteOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // Array.prototype.sort is stable: vitest's order stays within a tier.
    return (await super.sort(files)).sort((a, b) => tier(a) - tier(b));
  }
}
