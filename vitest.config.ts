import { defineConfig } from 'vitest/config';
import { SuiteOrder } from './test/suite-order.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-tmp.ts'],
    setupFiles: ['test/file-tmp.ts'],
    // QEMU boots without KVM take 10-30 s each; two cores run two boots side by side at most.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    sequence: { sequencer: SuiteOrder },
  },
});
