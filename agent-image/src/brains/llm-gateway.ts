// The village's LLM gateway as the LLM brain sees it: the official `openai` client pointed at
// `<villageUrl>/v1` with the agent's own token as the API key, and every failure sorted into what
// the brain does about it. No retries in the client (maxRetries 0): the brain decides what a refusal
// means (a cheaper model, a wait, the scripted brain), and the loop's own period paces the next try.
//
// Non-streaming on purpose: the brain acts only on complete tool calls, so streaming would add the
// assembly of argument fragments and gain nothing (nobody watches these tokens arrive); the gateway
// meters and bills a plain request exactly as it does a stream.
import OpenAI, { APIConnectionError, APIError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionFunctionTool,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';

export interface LlmGatewayOptions {
  /** `<villageUrl>/v1`. */
  baseURL: string;
  /** The agent's bearer token. */
  apiKey: string;
  timeoutMs: number;
}

export interface CompletionRequest {
  model: string;
  messages: ChatCompletionMessageParam[];
  tools: readonly ChatCompletionFunctionTool[];
  maxTokens: number;
  /** Aborts the call (the agent is stopping). */
  signal?: AbortSignal;
}

export class LlmGateway {
  private readonly client: OpenAI;

  constructor(readonly options: LlmGatewayOptions) {
    this.client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: options.apiKey,
      maxRetries: 0,
      timeout: options.timeoutMs,
      // Nothing from OPENAI_* variables leaks into requests to the village.
      organization: null,
      project: null,
    });
  }

  /** `GET /v1/models`: the models this agent's tier allows, as the gateway lists them. */
  async listModels(signal?: AbortSignal): Promise<string[]> {
    const page = await this.client.models.list(signal ? { signal } : {});
    return page.data.map((model) => model.id);
  }

  /** `POST /v1/chat/completions`, not streamed, the tools offered and chosen freely. */
  complete(request: CompletionRequest): Promise<ChatCompletion> {
    return this.client.chat.completions.create(
      {
        model: request.model,
        messages: request.messages,
        tools: [...request.tools],
        tool_choice: 'auto',
        max_tokens: request.maxTokens,
        stream: false,
      },
      request.signal ? { signal: request.signal } : {},
    );
  }
}

/**
 * What a gateway failure means for the brain:
 * - `unaffordable` (402 `insufficient_quota`): this model's worst-case price is above what the agent
 *   has: try a cheaper one;
 * - `rate-limited` (429): a limit: wait `retryAfterMs`. The gateway's own limits are the agent's, not
 *   a model's (`AGENT_WIDE_LIMITS`): every model waits; any other 429 (an upstream's) sends the brain to
 *   a cheaper model meanwhile;
 * - `not-allowed` (403 `model_not_allowed`, 404 `model_not_found`): the tier does not allow this model,
 *   or nothing serves it, any more: list the models again;
 * - `paused` (403 `agent_paused`): the loop breaker paused the agent: idle a long while;
 * - `no-upstream` (503 `no_upstream`, or any 5xx): nothing answers for this model now;
 * - `unreachable`: no answer at all (connection refused, DNS, timeout);
 * - `refused`: anything else (400, 401, 404, a reply that is not OpenAI's shape): a bug or a
 *   misconfiguration, said loudly.
 */
export interface GatewayProblem {
  kind: 'unaffordable' | 'rate-limited' | 'not-allowed' | 'paused' | 'no-upstream' | 'unreachable' | 'refused';
  status?: number;
  code?: string;
  /** From `Retry-After` (seconds or a date) or `retry-after-ms`. */
  retryAfterMs?: number;
  /** One line: `402 insufficient_quota: …`. */
  message: string;
}

/** 429 codes of limits the gateway counts per agent (requests a minute, tokens an hour, calls at once). */
export const AGENT_WIDE_LIMITS: ReadonlySet<string> = new Set([
  'rate_limit_exceeded',
  'tokens_per_hour_exceeded',
  'concurrency_exceeded',
]);

export function classifyGatewayError(error: unknown, now: number = Date.now()): GatewayProblem {
  if (error instanceof APIConnectionError) {
    return { kind: 'unreachable', message: connectionMessage(error) };
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const status = error.status;
    const code = typeof error.code === 'string' ? error.code : undefined;
    const retryAfterMs = retryAfterOf(error.headers, now);
    const message = `${status}${code ? ` ${code}` : ''}: ${firstLine(bodyMessage(error))}`;
    const base = {
      status,
      message,
      ...(code ? { code } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
    if (status === 402) return { kind: 'unaffordable', ...base };
    if (status === 429) return { kind: 'rate-limited', ...base };
    if (status === 403) return { kind: code === 'agent_paused' ? 'paused' : 'not-allowed', ...base };
    // The model is no longer served (an admin changed the upstreams): as good as not allowed.
    if (status === 404 && code === 'model_not_found') return { kind: 'not-allowed', ...base };
    if (status >= 500) return { kind: 'no-upstream', ...base };
    return { kind: 'refused', ...base };
  }
  return { kind: 'refused', message: firstLine(error instanceof Error ? error.message : String(error)) };
}

/** The error body's own message, without the client's `402 ` prefix. */
function bodyMessage(error: APIError): string {
  const body = error.error as { message?: unknown } | undefined;
  if (body && typeof body.message === 'string') return body.message;
  return error.message.replace(/^\d{3}\s+/, '');
}

function connectionMessage(error: APIConnectionError): string {
  const cause = (error as { cause?: { code?: unknown; cause?: { code?: unknown }; message?: unknown } }).cause;
  const detail = cause?.code ?? cause?.cause?.code ?? cause?.message;
  return detail === undefined ? error.message : `${error.message} (${String(detail)})`;
}

function retryAfterOf(headers: Headers | undefined, now: number): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') !== null && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
