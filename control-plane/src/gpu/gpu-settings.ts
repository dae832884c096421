import { z } from 'zod';

const milliseconds = (least: number, fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(least, `must be at least ${least} (ms)`)
    .default(fallback);

/** GPU-share billing (docs/ECONOMY.md, ADR 0015): part of ConfigSchema. */
export const GPU_SETTINGS = {
  /** The billing window: an agent's samples are billed together, one ledger transfer per agent and window. */
  VILLAGE_GPU_BILLING_WINDOW_MS: milliseconds(1_000, 60_000),
  /** How long after a window ends its bill waits for late samples (those that come later still get billed, apart). */
  VILLAGE_GPU_BILLING_GRACE_MS: milliseconds(0, 30_000),
  /** How often each replica looks for windows to bill. */
  VILLAGE_GPU_BILLING_SWEEP_MS: milliseconds(100, 10_000),
  /** Samples older than this are refused as expired (counted in the answer, not stored, not billed). */
  VILLAGE_GPU_SAMPLE_MAX_AGE_MS: milliseconds(60_000, 86_400_000),
};
