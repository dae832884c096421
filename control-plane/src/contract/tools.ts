import { z } from 'zod';

/**
 * The operator tools an agent runs inside its container (shell, files, HTTP, a browser), and the
 * log of every call: what the runtime reports (`POST /api/agents/:id/tool-calls`) and what
 * moderators read (`GET /api/tool-calls`). The redaction rule lives here, once, for both sides.
 */

/** The tools a tier may grant (`entitlements.tools`). */
export const AGENT_TOOLS = ['shell', 'file', 'http', 'browser'] as const;
export type AgentTool = (typeof AGENT_TOOLS)[number];
/** What a tier without a `tools` list gets (policies stored before tools existed): the least. */
export const DEFAULT_TIER_TOOLS: readonly AgentTool[] = ['file', 'http'];

/** The most of a call's output the log keeps, and of its error. */
export const TOOL_LOG_LIMITS = {
  output: 4000,
  error: 2000,
  /** JSON text of the (redacted) arguments. */
  arguments: 8000,
  cwd: 1024,
  callsPerReport: 100,
} as const;

export const ToolCallReportSchema = z.strictObject({
  /** The runtime's id for the call: a report sent twice (a retry) is stored once. */
  callId: z.string().min(1).max(64),
  tool: z.enum(AGENT_TOOLS),
  /** What the tool did: run, read, write, list, request, open, text, click, fill, screenshot. */
  action: z.string().min(1).max(40),
  /** The call's input, redacted (see redactToolArguments). */
  arguments: z
    .record(z.string(), z.unknown())
    .refine(
      (args) => JSON.stringify(args).length <= TOOL_LOG_LIMITS.arguments,
      `must be at most ${TOOL_LOG_LIMITS.arguments} characters of JSON`,
    ),
  cwd: z.string().max(TOOL_LOG_LIMITS.cwd).nullable(),
  ok: z.boolean(),
  /** A command's exit code (shell), the HTTP status (http); null otherwise. */
  exitCode: z.number().int().nullable(),
  /** The start of the output, at most TOOL_LOG_LIMITS.output characters. */
  output: z.string().max(TOOL_LOG_LIMITS.output),
  error: z.string().max(TOOL_LOG_LIMITS.error).nullable(),
  durationMs: z.number().int().nonnegative().max(86_400_000),
  startedAt: z.iso.datetime({ offset: true }),
  finishedAt: z.iso.datetime({ offset: true }),
});
export type ToolCallReport = z.infer<typeof ToolCallReportSchema>;

/** `POST /api/agents/:id/tool-calls`: a batch, as the runtime buffers them. */
export const ToolCallBatchRequestSchema = z.strictObject({
  calls: z
    .array(ToolCallReportSchema)
    .min(1, 'send at least one call')
    .max(TOOL_LOG_LIMITS.callsPerReport, `at most ${TOOL_LOG_LIMITS.callsPerReport} calls in one report`),
});
export type ToolCallBatchRequest = z.infer<typeof ToolCallBatchRequestSchema>;

export const ToolCallBatchResultSchema = z.object({
  received: z.number().int().nonnegative(),
  /** New calls stored; the rest had been stored already (a retried report). */
  stored: z.number().int().nonnegative(),
});
export type ToolCallBatchResult = z.infer<typeof ToolCallBatchResultSchema>;

/** One logged call, as moderators read it. */
export const ToolCallSchema = ToolCallReportSchema.extend({
  id: z.number().int().positive(),
  agentId: z.string(),
  recordedAt: z.string(),
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

export const REDACTED = '[redacted]';

/** Names whose values are secrets whatever they look like (env variables, headers, fields). */
const SECRET_NAME =
  /(token|secret|passw(or)?d|passphrase|api[-_]?key|private[-_]?key|credential|auth|cookie|session|signature)/i;
/** Values that look like credentials: known prefixes, bearer and basic schemes, long key-like strings. */
const SECRET_VALUE = [
  /^(avt|ghp|gho|ghs|ghu|github_pat|glpat|xox[abprs]|sk|pk|rk)[-_][A-Za-z0-9_-]{8,}/,
  /^(bearer|basic|token)\s+\S{8,}/i,
  /^AKIA[0-9A-Z]{16}$/,
  /^eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./,
  /^[A-Za-z0-9+/_=-]{32,}$/,
];

export function looksSecret(name: string, value: unknown): boolean {
  if (SECRET_NAME.test(name)) return true;
  return typeof value === 'string' && SECRET_VALUE.some((pattern) => pattern.test(value.trim()));
}

/**
 * A tool call's arguments as they may be logged: the values of env variables and headers whose
 * name or value looks secret are replaced by `[redacted]`, and so are credentials in URLs
 * (`https://user:pass@host`). Applied by the runtime before reporting and again by the control
 * plane before storing.
 */
export function redactToolArguments(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) {
    if ((name === 'env' || name === 'headers') && isPlainObject(value)) {
      out[name] = Object.fromEntries(
        Object.entries(value).map(([key, inner]) => [key, looksSecret(key, inner) ? REDACTED : inner]),
      );
    } else if (name === 'url' && typeof value === 'string') {
      out[name] = redactUrl(value);
    } else if (typeof value === 'string' && SECRET_NAME.test(name)) {
      out[name] = REDACTED;
    } else if (name === 'value' && typeof args.selector === 'string' && SECRET_NAME.test(args.selector)) {
      // What the browser typed into a password (or token) field.
      out[name] = REDACTED;
    } else {
      out[name] = value;
    }
  }
  return out;
}

function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, `$1${REDACTED}@`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
