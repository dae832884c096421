import { z } from 'zod';

const milliseconds = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number (ms)' })
    .int('must be a whole number (ms)')
    .min(min, `must be between ${min} and ${max} (ms)`)
    .max(max, `must be between ${min} and ${max} (ms)`)
    .default(fallback);

/** The fleet (docs/OPERATIONS.md, docs/DEPLOYMENT.md): part of ConfigSchema. */
export const FLEET_SETTINGS = {
  /**
   * Run the reconcile loop in this replica. Every replica may: a PostgreSQL advisory lock lets one pass
   * run at a time, and each agent's row lock orders the loop and the kill switch.
   */
  VILLAGE_FLEET: z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  /** How often the reconcile loop compares the containers with the database. */
  VILLAGE_FLEET_RECONCILE_MS: milliseconds(200, 600_000, 5_000),
  /** The image an agent runs when it was started without one. */
  VILLAGE_AGENT_IMAGE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._/:@-]{0,254}$/, 'must be an image reference, e.g. ai-village/agent:latest')
    .default('ai-village/agent:latest'),
  /** Deadline of each request to a node's engine: a node that stops answering costs this, not a stuck loop. */
  VILLAGE_DOCKER_TIMEOUT_MS: milliseconds(1_000, 300_000, 20_000),
  /** Agents' containers changed at once per node (a pass, "pause all"). */
  VILLAGE_FLEET_CONCURRENCY: z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be between 1 and 64')
    .max(64, 'must be between 1 and 64')
    .default(8),
  /**
   * More runtime settings for every agent container, as a JSON object of VILLAGE_* names to strings
   * (e.g. {"VILLAGE_AGENT_LOOP_MS":"2000"}); the container spec refuses anything secret-like.
   */
  VILLAGE_FLEET_AGENT_SETTINGS: z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined || text.trim() === '') return {};
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        context.addIssue({ code: 'custom', message: 'must be JSON: {"VILLAGE_...": "value"}' });
        return z.NEVER;
      }
      const parsed = z.record(z.string().regex(/^VILLAGE_[A-Z0-9_]+$/), z.string()).safeParse(json);
      if (parsed.success) return parsed.data;
      context.addIssue({ code: 'custom', message: 'must be a JSON object of VILLAGE_* names to string values' });
      return z.NEVER;
    }),
};
