/**
 * Default values of the `endurance` flags as the user would type them. Kept free of imports so the
 * CLI can show them in --help without loading the implementation; the figures behind them are
 * explained in model.ts.
 */
export const ENDURANCE_DEFAULTS = {
  nand: 'tlc',
  waf: 'auto',
  writeSize: '4KiB',
  eraseBlock: '4MiB',
  page: '16KiB',
  save: '64M',
  saveEvery: '24h',
  imageSize: '1G',
  reflashEvery: '90d',
  minutes: '1',
} as const;
