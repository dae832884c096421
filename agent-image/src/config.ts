// The runtime's configuration: environment variables only (the container gets them from the
// launcher), checked once at start so a bad value stops the agent with a message naming it.
import { z } from 'zod';
import { DEFAULT_REFLECT_EVERY_LOOPS } from './agent-memory.js';
import { BRAIN_KINDS } from './brains/brain.js';

// An empty variable counts as unset: `FOO= node main.js` must not become a zero or an empty token.
const unsetIfEmpty = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const required = (what: string) =>
  z.preprocess(
    unsetIfEmpty,
    z.string({ error: (issue) => (issue.input === undefined ? `is required: ${what}` : undefined) }).trim(),
  );

/** The LLM brain's settings (`VILLAGE_AGENT_BRAIN=llm`); read whatever the brain, so a typo fails at start. */
export interface LlmSettings {
  /** `VILLAGE_AGENT_MODELS`: the models to use, most wanted first (unset: the tier's own list, best first). */
  models?: string[];
  /** `VILLAGE_AGENT_LLM_TIMEOUT_MS`: how long one gateway call may take. */
  timeoutMs: number;
  /** `VILLAGE_AGENT_LLM_MAX_TOKENS`: max_tokens of each call (it sets the worst-case price the gateway holds). */
  maxTokens: number;
  /** `VILLAGE_AGENT_MEMORY_CHARS`: the character budget of the brain's memory in each prompt. */
  memoryChars: number;
}

export const LLM_DEFAULTS: LlmSettings = { timeoutMs: 30_000, maxTokens: 400, memoryChars: 2000 };

/** Where the tools work and how they reach the outside (tools/). */
export interface ToolSettings {
  /** `VILLAGE_WORKSPACE`: the directory the file tool may touch and the shell starts in. */
  workspace: string;
  /** `VILLAGE_CHROMIUM_PATH`: the image's Chromium, driven by the browser tool. */
  chromiumPath: string;
  /**
   * The proxy for outbound HTTP(S), if any: `HTTP_PROXY`/`HTTPS_PROXY` (or lower case), else the egress
   * forwarder when `VILLAGE_EGRESS_SOCKET` is set.
   */
  proxy?: { http?: string; https?: string; noProxy: string[] };
  /**
   * `VILLAGE_EGRESS_SOCKET` is set: the container's only way out is the node's egress proxy, and https://
   * URLs go to it in absolute form (not CONNECT), so it can add the site's brokered secrets.
   */
  egress: boolean;
}

/** Inside a container the loopback forwarder to the egress socket listens here (the network design). */
export const EGRESS_FORWARDER_URL = 'http://127.0.0.1:3128';
export const TOOL_DEFAULTS: ToolSettings = {
  workspace: '/workspace',
  chromiumPath: '/usr/bin/chromium',
  egress: false,
};

const proxyUrl = z.preprocess(
  unsetIfEmpty,
  z.url({ protocol: /^http$/, error: 'must be an http:// proxy URL, e.g. http://127.0.0.1:3128' }).optional(),
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
    // The LLM brain's settings.
    /** Models to use, most wanted first; later ones are the cheaper fallbacks. Unset: the tier's own list. */
    VILLAGE_AGENT_MODELS: z.preprocess(
      unsetIfEmpty,
      z
        .string()
        .transform((list) =>
          list
            .split(',')
            .map((name) => name.trim())
            .filter((name) => name.length > 0),
        )
        .pipe(
          z
            .array(z.string().max(200, 'must name models of at most 200 characters'))
            .min(1, 'must name at least one model, e.g. medium,small'),
        )
        .optional(),
    ),
    VILLAGE_AGENT_LLM_TIMEOUT_MS: z.preprocess(
      unsetIfEmpty,
      z.coerce
        .number({ error: 'must be a number of milliseconds' })
        .int('must be a whole number of milliseconds')
        .min(1000, 'must be at least 1000 ms')
        .max(600_000, 'must be at most 10 minutes')
        .default(LLM_DEFAULTS.timeoutMs),
    ),
    VILLAGE_AGENT_LLM_MAX_TOKENS: z.preprocess(
      unsetIfEmpty,
      z.coerce
        .number({ error: 'must be a number of tokens' })
        .int('must be a whole number of tokens')
        .min(16, 'must be at least 16 tokens')
        .max(32_768, 'must be at most 32768 tokens')
        .default(LLM_DEFAULTS.maxTokens),
    ),
    VILLAGE_AGENT_REFLECT_LOOPS: z.preprocess(
      unsetIfEmpty,
      z.coerce
        .number({ error: 'must be a number of loops' })
        .int('must be a whole number of loops')
        .min(1, 'must be at least 1 loop')
        .max(100_000, 'must be at most 100000 loops')
        .default(DEFAULT_REFLECT_EVERY_LOOPS),
    ),
    VILLAGE_WORKSPACE: z.preprocess(
      unsetIfEmpty,
      z
        .string()
        .refine((path) => path.startsWith('/'), 'must be an absolute path, e.g. /workspace')
        .default(TOOL_DEFAULTS.workspace),
    ),
    VILLAGE_CHROMIUM_PATH: z.preprocess(
      unsetIfEmpty,
      z
        .string()
        .refine((path) => path.startsWith('/'), 'must be an absolute path, e.g. /usr/bin/chromium')
        .default(TOOL_DEFAULTS.chromiumPath),
    ),
    VILLAGE_EGRESS_SOCKET: z.preprocess(unsetIfEmpty, z.string().optional()),
    HTTP_PROXY: proxyUrl,
    http_proxy: proxyUrl,
    HTTPS_PROXY: proxyUrl,
    https_proxy: proxyUrl,
    NO_PROXY: z.preprocess(unsetIfEmpty, z.string().optional()),
    no_proxy: z.preprocess(unsetIfEmpty, z.string().optional()),
    VILLAGE_AGENT_MEMORY_CHARS: z.preprocess(
      unsetIfEmpty,
      z.coerce
        .number({ error: 'must be a number of characters' })
        .int('must be a whole number of characters')
        .min(400, 'must be at least 400 characters')
        .max(50_000, 'must be at most 50000 characters')
        .default(LLM_DEFAULTS.memoryChars),
    ),
  })
  .transform((env) => ({
    villageUrl: env.VILLAGE_URL,
    agentId: env.VILLAGE_AGENT_ID,
    agentToken: env.VILLAGE_AGENT_TOKEN,
    loopMs: env.VILLAGE_AGENT_LOOP_MS,
    seed: env.VILLAGE_AGENT_SEED ?? env.VILLAGE_AGENT_ID,
    brain: env.VILLAGE_AGENT_BRAIN,
    /** Loops between two reflection notes kept by the control plane (agent-memory.ts). */
    reflectEveryLoops: env.VILLAGE_AGENT_REFLECT_LOOPS,
    llm: {
      ...(env.VILLAGE_AGENT_MODELS ? { models: env.VILLAGE_AGENT_MODELS } : {}),
      timeoutMs: env.VILLAGE_AGENT_LLM_TIMEOUT_MS,
      maxTokens: env.VILLAGE_AGENT_LLM_MAX_TOKENS,
      memoryChars: env.VILLAGE_AGENT_MEMORY_CHARS,
    } as LlmSettings,
    tools: toolSettings(env),
  }));

function toolSettings(env: {
  VILLAGE_WORKSPACE: string;
  VILLAGE_CHROMIUM_PATH: string;
  VILLAGE_EGRESS_SOCKET?: string | undefined;
  HTTP_PROXY?: string | undefined;
  http_proxy?: string | undefined;
  HTTPS_PROXY?: string | undefined;
  https_proxy?: string | undefined;
  NO_PROXY?: string | undefined;
  no_proxy?: string | undefined;
}): ToolSettings {
  const egress = env.VILLAGE_EGRESS_SOCKET !== undefined;
  const http = env.HTTP_PROXY ?? env.http_proxy ?? (egress ? EGRESS_FORWARDER_URL : undefined);
  const https = env.HTTPS_PROXY ?? env.https_proxy ?? http;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '')
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry.length > 0);
  return {
    workspace: env.VILLAGE_WORKSPACE,
    chromiumPath: env.VILLAGE_CHROMIUM_PATH,
    ...(http || https ? { proxy: { ...(http ? { http } : {}), ...(https ? { https } : {}), noProxy } } : {}),
    egress,
  };
}

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
