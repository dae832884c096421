// The runtime's configuration: environment variables only (the container gets them from the
// launcher), checked once at start so a bad value stops the agent with a message naming it.
import { z } from 'zod';
import { BRAIN_KINDS } from './brains/brain.js';

// An empty variable counts as unset: `FOO= node main.js` must not become a zero or an empty token.
const unsetIfEmpty = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const required = (what: string) =>
  z.preprocess(
    unsetIfEmpty,
    z.string({ error: (issue) => (issue.input === undefined ? `is required: ${what}` : undefined) }).trim(),
  );

/** The variables as the launcher sets them, and what they become. */
export const AgentEnvSchema = z
  .object({
    VILLAGE_URL: z.preprocess(
      unsetIfEmpty,
      z.url({
        protocol: /^https?$/,
        error: (issue) =>
          issue.input === undefined
            ? 'is required: the control plane base URL, e.g. http://127.0.0.1:8080'
            : 'must be an http(s) URL, e.g. http://127.0.0.1:8080',
      }),
    ),
    VILLAGE_AGENT_ID: required("the agent's id in the village"),
    VILLAGE_AGENT_TOKEN: required("the agent's bearer token, shown once when the agent was created"),
    VILLAGE_AGENT_LOOP_MS: z.preprocess(
      unsetIfEmpty,
      z.coerce
        .number({ error: 'must be a number of milliseconds' })
        .int('must be a whole number of milliseconds')
        .min(50, 'must be at least 50 ms')
        .max(3_600_000, 'must be at most an hour')
        .default(2000),
    ),
    /** Defaults to the agent id, so the same agent behaves the same way run after run. */
    VILLAGE_AGENT_SEED: z.preprocess(unsetIfEmpty, z.string().optional()),
    VILLAGE_AGENT_BRAIN: z.preprocess(
      unsetIfEmpty,
      z.enum(BRAIN_KINDS, { error: `must be one of: ${BRAIN_KINDS.join(', ')}` }).default('scripted'),
    ),
  })
  .transform((env) => ({
    villageUrl: env.VILLAGE_URL,
    agentId: env.VILLAGE_AGENT_ID,
    agentToken: env.VILLAGE_AGENT_TOKEN,
    loopMs: env.VILLAGE_AGENT_LOOP_MS,
    seed: env.VILLAGE_AGENT_SEED ?? env.VILLAGE_AGENT_ID,
    brain: env.VILLAGE_AGENT_BRAIN,
  }));

export type AgentEnv = z.input<typeof AgentEnvSchema>;
export type AgentConfig = z.output<typeof AgentEnvSchema>;

export class AgentConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid agent configuration: ${problems.join('; ')}`);
    this.name = 'AgentConfigError';
  }
}

/** Reads the configuration from an environment (default: this process's); throws AgentConfigError. */
export function parseAgentConfig(env: Record<string, string | undefined> = process.env): AgentConfig {
  const parsed = AgentEnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new AgentConfigError(
    parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'} ${issue.message}`),
  );
}
