import { z } from 'zod';
import { ApiErrorSchema, ActionResultSchema, CreatedAgentSchema, MoveResultSchema } from './requests.js';
import type { AgentAction, ApiError, CreateAgentRequest, MoveRequest } from './requests.js';
import { AgentSchema, HealthSchema, WorldSchema } from './world.js';
import type { Agent } from './world.js';
import { listQueryString, parseContentRange } from './list.js';
import type { ListPage, ListParams } from './list.js';

/** An API answer that was not 2xx: carries the server's status and message. */
export class VillageApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError | undefined,
    readonly path: string,
  ) {
    super(`${status} on ${path}: ${body?.message ?? 'no message'}`);
    this.name = 'VillageApiError';
  }
}

/** For writes a client may retry: the same key makes the server apply the request once. */
export interface WriteOptions {
  idempotencyKey?: string;
}

export interface VillageClientOptions {
  /** Base URL of the control plane, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** An agent's or the admin's bearer token. */
  token?: string;
  fetch?: typeof fetch;
  /** Per-request time limit (ms). */
  timeoutMs?: number;
}

/**
 * The typed client of the control plane's API, used by the agent runtime, the map, the console and
 * the Node-RED nodes alike. Every answer is checked against the same zod schema the server uses.
 */
export class VillageClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: VillageClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  health() {
    return this.request('GET', '/api/health', HealthSchema, undefined, { accept: [200, 503] });
  }

  world() {
    return this.request('GET', '/api/world', WorldSchema);
  }

  agent(id: string) {
    return this.request('GET', `/api/agents/${encodeURIComponent(id)}`, AgentSchema);
  }

  async agents(params: ListParams = {}): Promise<ListPage<Agent>> {
    const response = await this.send('GET', `/api/agents${listQueryString(params)}`);
    const items = z.array(AgentSchema).parse(await response.json());
    const range = parseContentRange(response.headers.get('content-range'));
    return { items, total: range?.total ?? items.length, range: range?.range ?? null };
  }

  createAgent(body: CreateAgentRequest, options?: WriteOptions) {
    return this.request('POST', '/api/agents', AgentSchema.extend(CreatedAgentSchema.shape), body, options);
  }

  move(id: string, body: MoveRequest, options?: WriteOptions) {
    return this.request('POST', `/api/agents/${encodeURIComponent(id)}/move`, MoveResultSchema, body, options);
  }

  act(id: string, action: AgentAction, options?: WriteOptions) {
    return this.request('POST', `/api/agents/${encodeURIComponent(id)}/action`, ActionResultSchema, action, options);
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
    options?: WriteOptions & { accept?: number[] },
  ): Promise<z.infer<S>> {
    const response = await this.send(method, path, body, options);
    return schema.parse(await response.json());
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    options: WriteOptions & { accept?: number[] } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const response = await this.fetchImpl(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
    if (!response.ok && !(options.accept ?? []).includes(response.status)) {
      const parsed = ApiErrorSchema.safeParse(await response.json().catch(() => undefined));
      throw new VillageApiError(response.status, parsed.success ? parsed.data : undefined, path);
    }
    return response;
  }
}
