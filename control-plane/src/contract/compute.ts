import { z } from 'zod';

/**
 * The compute gateway: OpenAI-compatible upstreams, model prices, usage records and spend, the
 * admission queue. Prices are mills (1/1000 aiDollar) per million tokens.
 */

export const UpstreamNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,39}$/, 'must be 1-40 lower-case letters, digits, "_", "." or "-"');
const modelName = z.string().min(1).max(100);

/** One OpenAI-compatible server (vLLM, Ollama, NVIDIA NIM...): `VILLAGE_LLM_UPSTREAMS` is a JSON list of these. */
export const LlmUpstreamConfigSchema = z
  .object({
    name: UpstreamNameSchema,
    baseUrl: z.url({ protocol: /^https?$/, error: 'baseUrl must be an http(s) URL, e.g. http://gpu1:8000/v1' }),
    apiKey: z.string().max(500).default(''),
    /** The gateway model names it serves (the same names are sent upstream). */
    models: z.array(modelName).min(1).max(100),
    maxConcurrency: z.number().int().positive().max(10_000),
    timeoutMs: z.number().int().min(100).max(3_600_000),
    enabled: z.boolean().default(true),
  })
  .strict();
export type LlmUpstreamConfig = z.infer<typeof LlmUpstreamConfigSchema>;
export const LlmUpstreamListSchema = z.array(LlmUpstreamConfigSchema);

/** `PUT /api/llm/upstreams/:name`: the upstream without its name; without `apiKey` the stored key is kept. */
export const PutLlmUpstreamRequestSchema = LlmUpstreamConfigSchema.omit({ name: true }).extend({
  apiKey: z.string().max(500).optional(),
});
export type PutLlmUpstreamRequest = z.input<typeof PutLlmUpstreamRequestSchema>;
export type PutLlmUpstreamCommand = z.output<typeof PutLlmUpstreamRequestSchema>;

/** An upstream as admins see it: the key is never shown, only whether one is set. */
export const LlmUpstreamSchema = LlmUpstreamConfigSchema.omit({ apiKey: true }).extend({
  id: z.string(),
  apiKeySet: z.boolean(),
  /** null until the first health check. */
  healthy: z.boolean().nullable(),
  lastCheckedAt: z.string().nullable(),
  lastError: z.string().nullable(),
  /** Calls in flight on it now, across replicas. */
  inFlight: z.number().int().nonnegative(),
});
export type LlmUpstream = z.infer<typeof LlmUpstreamSchema>;

export const ModelPriceRequestSchema = z
  .object({
    promptPricePerMtok: z.number().int().nonnegative().max(1e12),
    completionPricePerMtok: z.number().int().nonnegative().max(1e12),
  })
  .strict();
export type ModelPriceRequest = z.infer<typeof ModelPriceRequestSchema>;
export const ModelPriceSchema = ModelPriceRequestSchema.extend({
  id: z.string(),
  name: z.string(),
  /** True when the model has no price of its own and costs the configured default. */
  isDefault: z.boolean(),
});
export type ModelPrice = z.infer<typeof ModelPriceSchema>;

export const USAGE_STATUSES = ['ok', 'client_disconnected', 'upstream_error', 'timeout'] as const;

export const UsageRecordSchema = z.object({
  id: z.number().int(),
  requestId: z.string(),
  agentId: z.string(),
  model: z.string(),
  upstream: z.string().nullable(),
  stream: z.boolean(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  /** upstream: reported by the upstream; estimated: counted by the gateway (a stream that broke off); none. */
  usageSource: z.enum(['upstream', 'estimated', 'none']),
  /** What was charged (mills); 0 under the commons allowance. */
  price: z.number().int(),
  commons: z.boolean(),
  holdId: z.number().int().nullable(),
  transferId: z.number().int().nullable(),
  status: z.enum(USAGE_STATUSES),
  error: z.string().nullable(),
  queuedMs: z.number().int(),
  latencyMs: z.number().int(),
  createdAt: z.string(),
});
export type UsageRecord = z.infer<typeof UsageRecordSchema>;

export const SpendSummarySchema = z.object({
  agentId: z.string(),
  since: z.string(),
  requests: z.number().int(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  spent: z.number().int(),
  byModel: z.array(
    z.object({
      model: z.string(),
      requests: z.number().int(),
      promptTokens: z.number().int(),
      completionTokens: z.number().int(),
      spent: z.number().int(),
    }),
  ),
});
export type SpendSummary = z.infer<typeof SpendSummarySchema>;

export const QueueStatsSchema = z.object({
  /** Requests waiting for an upstream slot, by tier. */
  waiting: z.number().int(),
  byTier: z.record(z.string(), z.number().int()),
  /** Time requests waited before they were admitted (recent ones, ms). */
  waitMs: z.object({ samples: z.number().int(), p50: z.number(), p99: z.number(), max: z.number() }),
});
export type QueueStats = z.infer<typeof QueueStatsSchema>;

export const ResumeComputeRequestSchema = z.object({ reason: z.string().trim().min(1).max(500) }).strict();

/** `GET /api/llm/paused-agents`: an agent the loop breaker (or a moderator) paused, awaiting a moderator. */
export const PausedAgentSchema = z.object({
  /** The agent's id (react-admin's record id). */
  id: z.string(),
  displayName: z.string(),
  pausedAt: z.string(),
  reason: z.string(),
});
export type PausedAgent = z.infer<typeof PausedAgentSchema>;

/**
 * The part of an OpenAI chat completion request the gateway reads; everything else (tools,
 * temperature, response_format...) is passed through untouched.
 */
export const ChatCompletionRequestSchema = z
  .object({
    model: modelName,
    messages: z
      .array(z.looseObject({ role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']) }))
      .min(1, 'messages must hold at least one message'),
    max_tokens: z.number().int().positive().optional(),
    max_completion_tokens: z.number().int().positive().optional(),
    stream: z.boolean().optional(),
    n: z.literal(1, 'n must be 1: the gateway bills one choice per request').optional(),
  })
  .loose();
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;
