import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// An OpenAI-compatible LLM server on loopback: the stand-in for vLLM, Ollama or NIM in the gateway's
// tests and benchmark. It answers `GET /v1/models` and `POST /v1/chat/completions` (plain and SSE
// streaming), deterministically, and can be told to misbehave the way real upstreams do: slow, erroring,
// dropping or stalling connections, sending garbage, refusing connections.
//
// Token counts are the fake's own, not a tokenizer's: prompt_tokens = ceil(characters of every message's
// text / 4) and completion_tokens = the number of words answered. A gateway's own estimate may differ;
// tests should compare against what the fake reports (`usage`), not recompute it.

/** The JSON body of a chat completion request, as received (not validated). */
export interface FakeChatRequestBody {
  model?: string;
  messages?: { role?: string; content?: unknown }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  [key: string]: unknown;
}

/** A scripted answer. Without `content` and `toolCalls` the answer is the default words. */
export interface FakeAnswer {
  content?: string;
  /** Function calls; ids are `call_<n>`, n counting up from 1 over the fake's life (reset() restarts it). */
  toolCalls?: { name: string; arguments: string }[];
  /** Overrides usage.completion_tokens (by default the words of `content` plus ceil(arguments / 4) per call). */
  completionTokens?: number;
  /** Overrides usage.prompt_tokens (by default ceil(characters of the messages' text / 4)). */
  promptTokens?: number;
  /** Overrides finish_reason ('tool_calls' with tool calls, else 'stop', or 'length' when max_tokens cut the default words). */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
}

export type FakeResponder = (body: FakeChatRequestBody) => FakeAnswer | Promise<FakeAnswer>;

/**
 * What one chat completion request does. The fields combine: `delayMs` comes first, then `stall`,
 * `status` or `garbage` (in that order of precedence) replace the answer, and `chunkDelayMs`,
 * `dropAfterChunks` and `stallAfterChunks` shape a streamed one.
 */
export interface FakeAnswerBehaviour {
  /** Wait this long before the first byte (headers included). */
  delayMs?: number;
  /** Wait this long between the `data:` events of a stream. */
  chunkDelayMs?: number;
  /** Answer with this HTTP status and OpenAI's error shape `{ error: { message, type, param, code } }`. */
  status?: number;
  message?: string;
  /** The error's `type` and `code` (by default derived from the status). */
  type?: string;
  code?: string | null;
  /** Extra response headers (with `status`, e.g. `retry-after`). */
  headers?: Record<string, string>;
  /**
   * Destroy the socket after this many `data:` events of a stream (the role chunk is the first). Headers
   * always go out first. A non-streaming answer is cut after its headers and half its body.
   */
  dropAfterChunks?: number;
  /** Stop writing after this many `data:` events of a stream, keeping the connection open until the client goes away. */
  stallAfterChunks?: number;
  /** Read the request and never answer, until the client goes away or the fake is closed. */
  stall?: boolean;
  /** 200 with a body that is not JSON (`application/json` that does not parse; for a stream, SSE data lines that do not). */
  garbage?: boolean;
  /** Script the answer (overrides the `respond` option). */
  respond?: FakeResponder;
}

/**
 * `refuseConnections: true` closes the listening socket, so new connections are refused (ECONNREFUSED,
 * which the openai client reports as `APIConnectionError`); requests already in flight carry on.
 * `refuseConnections: false` listens again, on the same port. It takes effect at once, not in the queue.
 */
export type FakeBehaviour = FakeAnswerBehaviour | { refuseConnections: boolean };

/** One chat completion request the fake received (recorded once its body was read and parsed). */
export interface FakeRequest {
  body: FakeChatRequestBody;
  headers: IncomingHttpHeaders;
  /** Date.now() when the whole body had been read. */
  receivedAt: number;
  stream: boolean;
  /** The HTTP status sent; undefined while no headers have gone out (a delay, a stall). */
  status?: number;
  /** `data:` events written (streams only). */
  chunksSent: number;
  /** The fake sent its whole answer. */
  completed: boolean;
  /** The fake cut the connection itself (`dropAfterChunks`). */
  dropped: boolean;
  /** The client closed the connection before the answer's end (an abort, a timeout); the fake stopped generating. */
  clientWentAway: boolean;
  /** Date.now() when the exchange ended, however it ended. */
  endedAt?: number;
}

export interface FakeUpstreamOptions {
  /** The ids `GET /v1/models` lists (default `['fake-model']`). Requests for other models are still answered. */
  models?: string[];
  /** Shown as the models' `owned_by`, in the `x-fake-upstream` header and in completion ids (default 'fake'). */
  name?: string;
  /** When set, every request must carry `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
  /** Scripts every answer that no behaviour scripts. */
  respond?: FakeResponder;
}

export interface FakeUpstream {
  readonly name: string;
  /** `http://127.0.0.1:<port>/v1`, as the openai client's `baseURL` wants it. */
  readonly baseUrl: string;
  readonly port: number;
  /** Every chat completion request, in order of arrival (the same array across reset()). */
  readonly requests: FakeRequest[];
  /** Chat completion requests being answered now (stalled ones included). */
  readonly inFlight: number;
  /** The most chat completion requests in flight at once since start or reset(). */
  readonly maxInFlight: number;
  /** Chat completion answers sent to their end (errors included). */
  readonly completed: number;
  /** `GET /v1/models` requests served. */
  readonly modelListings: number;
  /**
   * Sets what the next chat completion requests do: `times` (default 1) one-shot uses, queued after any
   * already queued, or `'always'` to replace the default used once the queue is empty. The queue changes
   * at once; the promise matters only for `refuseConnections` (resolved once it is in effect).
   */
  behave(behaviour: FakeBehaviour, times?: number | 'always'): Promise<void>;
  /** Forgets the requests, the behaviours and the counters (not the in-flight requests) and accepts connections again. */
  reset(): Promise<void>;
  /** Ends everything: stops listening, clears every timer, destroys open sockets. */
  close(): Promise<void>;
}

const DEFAULT_WORDS = 16;
const ARGUMENT_FRAGMENT = 8;

/** Starts a fake OpenAI-compatible LLM server on 127.0.0.1 (a free port). */
export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const fake = new FakeLlmUpstream(options);
  await fake.listen();
  return fake;
}

class FakeLlmUpstream implements FakeUpstream {
  readonly name: string;
  readonly requests: FakeRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  completed = 0;
  modelListings = 0;
  port = 0;

  private readonly models: string[];
  private readonly queue: FakeAnswerBehaviour[] = [];
  private fallback: FakeAnswerBehaviour = {};
  private listener: Server | null = null;
  private opening: Promise<void> | null = null;
  private readonly servers = new Set<Server>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly exchanges = new Set<AbortController>();
  private toolCallCount = 0;
  private completionCount = 0;
  private closed = false;

  constructor(private readonly options: FakeUpstreamOptions) {
    this.name = options.name ?? 'fake';
    this.models = options.models ?? ['fake-model'];
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Listens on the fake's port (a free one the first time). */
  listen(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the fake upstream is closed'));
    if (this.listener) return Promise.resolve();
    this.opening ??= new Promise<void>((resolve, reject) => {
      const server = createServer((req, res) => {
        this.handle(req, res).catch((error: unknown) => {
          console.error('fake upstream: a request failed', error);
          res.destroy();
        });
      });
      this.servers.add(server);
      server.on('connection', (socket) => {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
      });
      server.once('close', () => this.servers.delete(server));
      server.on('error', (error) => {
        if (server.listening) return;
        this.servers.delete(server);
        this.opening = null;
        reject(error);
      });
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        this.listener = server;
        this.opening = null;
        resolve();
      });
    });
    return this.opening;
  }

  /** Stops accepting connections (and closes idle keep-alive ones); requests in flight carry on. */
  private refuse() {
    const listener = this.listener;
    this.listener = null;
    listener?.close();
  }

  behave(behaviour: FakeBehaviour, times: number | 'always' = 1): Promise<void> {
    if ('refuseConnections' in behaviour) {
      if (Object.keys(behaviour).length > 1) throw new Error('refuseConnections goes in a behave() call of its own');
      if (!behaviour.refuseConnections) return this.listen();
      this.refuse();
      return Promise.resolve();
    }
    if (times === 'always') this.fallback = behaviour;
    else for (let i = 0; i < times; i++) this.queue.push(behaviour);
    return Promise.resolve();
  }

  async reset() {
    this.requests.length = 0;
    this.queue.length = 0;
    this.fallback = {};
    this.maxInFlight = this.inFlight;
    this.completed = 0;
    this.modelListings = 0;
    this.toolCallCount = 0;
    await this.listen();
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const exchange of this.exchanges) exchange.abort();
    const closing = [...this.servers].map((server) => new Promise((resolve) => server.once('close', resolve)));
    this.listener?.close();
    this.listener = null;
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closing);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    res.setHeader('x-fake-upstream', this.name);
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch {
      return; // the client went away while sending
    }
    const path = (req.url ?? '/').split('?')[0];
    if (this.options.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
      return;
    }
    if (path === '/v1/models' && req.method === 'GET') {
      this.modelListings++;
      sendJson(res, 200, {
        object: 'list',
        data: this.models.map((id) => ({ id, object: 'model', created: 0, owned_by: this.name })),
      });
      return;
    }
    if (path !== '/v1/chat/completions') {
      sendError(res, 404, `No route for ${req.method} ${path}.`, 'invalid_request_error', 'not_found');
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, 405, `Method ${req.method} not allowed.`, 'invalid_request_error', 'method_not_allowed');
      return;
    }
    let body: FakeChatRequestBody;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as FakeChatRequestBody;
    } catch {
      sendError(res, 400, 'The request body is not a JSON object.', 'invalid_request_error', null);
      return;
    }
    await this.complete(body, req.headers, res);
  }

  private async complete(body: FakeChatRequestBody, headers: IncomingHttpHeaders, res: ServerResponse) {
    const record: FakeRequest = {
      body,
      headers,
      receivedAt: Date.now(),
      stream: body.stream === true,
      chunksSent: 0,
      completed: false,
      dropped: false,
      clientWentAway: false,
    };
    this.requests.push(record);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const exchange = new AbortController();
    this.exchanges.add(exchange);
    let ended = false;
    const onEnd = () => {
      if (ended) return;
      ended = true;
      this.exchanges.delete(exchange);
      exchange.abort();
      this.inFlight--;
      record.endedAt = Date.now();
      if (res.writableFinished) {
        record.completed = true;
        this.completed++;
      } else if (!record.dropped && !this.closed) {
        record.clientWentAway = true;
      }
    };
    res.once('close', onEnd);
    if (res.destroyed) onEnd(); // the client left between the body's end and now
    const signal = exchange.signal;
    const behaviour = this.queue.shift() ?? this.fallback;

    if (!(await this.sleep(behaviour.delayMs ?? 0, signal))) return;
    if (behaviour.stall) {
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      return;
    }
    if (behaviour.status !== undefined) {
      const [type, code] = errorKind(behaviour.status);
      for (const [name, value] of Object.entries(behaviour.headers ?? {})) res.setHeader(name, value);
      record.status = behaviour.status;
      sendError(
        res,
        behaviour.status,
        behaviour.message ?? `The fake upstream answered ${behaviour.status}.`,
        behaviour.type ?? type,
        behaviour.code === undefined ? code : behaviour.code,
      );
      return;
    }
    if (behaviour.garbage) {
      record.status = 200;
      if (record.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        await this.stream(res, record, behaviour, signal, ['this is not json', '{"truncated": ', '[DONE]']);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html><body>502 Bad Gateway</body></html>');
      }
      return;
    }

    let answer: FakeAnswer;
    try {
      answer = await (behaviour.respond ?? this.options.respond ?? defaultAnswer)(body);
    } catch (error) {
      record.status = 500;
      sendError(res, 500, `The fake's responder threw: ${String(error)}`, 'server_error', null);
      return;
    }
    if (signal.aborted) return;
    const completion = this.render(body, answer);
    record.status = 200;
    if (!record.stream) {
      const text = JSON.stringify(completion.whole);
      if (behaviour.dropAfterChunks !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, Math.floor(text.length / 2)));
        drop(res, record);
        return;
      }
      sendJson(res, 200, completion.whole);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    await this.stream(res, record, behaviour, signal, [...completion.chunks.map((c) => JSON.stringify(c)), '[DONE]']);
  }

  /** Writes SSE `data:` events, honouring chunkDelayMs and dropAfterChunks; stops when the client goes away. */
  private async stream(
    res: ServerResponse,
    record: FakeRequest,
    behaviour: FakeAnswerBehaviour,
    signal: AbortSignal,
    events: string[],
  ) {
    for (const [index, data] of events.entries()) {
      if (index > 0 && !(await this.sleep(behaviour.chunkDelayMs ?? 0, signal))) return;
      if (signal.aborted) return;
      if (record.chunksSent === behaviour.dropAfterChunks) {
        drop(res, record);
        return;
      }
      if (record.chunksSent === behaviour.stallAfterChunks) {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        return;
      }
      res.write(`data: ${data}\n\n`);
      record.chunksSent++;
    }
    if (record.chunksSent === behaviour.dropAfterChunks) {
      drop(res, record);
      return;
    }
    res.end();
  }

  /** The whole completion and the chunks that stream it, from an answer. */
  private render(body: FakeChatRequestBody, answer: FakeAnswer) {
    const scripted = answer.content !== undefined || (answer.toolCalls?.length ?? 0) > 0;
    const limit = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    const content = scripted ? (answer.content ?? null) : defaultWords(limit);
    const toolCalls = (answer.toolCalls ?? []).map((call) => ({
      id: `call_${++this.toolCallCount}`,
      type: 'function' as const,
      function: { name: call.name, arguments: call.arguments },
    }));
    const pieces = content === null ? [] : splitWords(content);
    const completionTokens =
      answer.completionTokens ??
      (content === null ? 0 : countWords(content)) +
        toolCalls.reduce((sum, call) => sum + Math.ceil(call.function.arguments.length / 4), 0);
    const promptTokens = answer.promptTokens ?? Math.ceil(promptCharacters(body) / 4);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const finishReason =
      answer.finishReason ??
      (toolCalls.length > 0 ? 'tool_calls' : !scripted && limit != null && limit < DEFAULT_WORDS ? 'length' : 'stop');
    const id = `chatcmpl-${this.name}-${++this.completionCount}`;
    const created = Math.floor(Date.now() / 1000);
    const model = typeof body.model === 'string' ? body.model : (this.models[0] ?? 'fake-model');

    const whole = {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content,
            refusal: null,
            ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
      usage,
    };

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
    const chunks: object[] = [];
    if (content !== null || toolCalls.length === 0) {
      chunks.push(chunk({ role: 'assistant', content: '', refusal: null }));
      for (const piece of pieces) chunks.push(chunk({ content: piece }));
    }
    for (const [index, call] of toolCalls.entries()) {
      const opening = {
        index,
        id: call.id,
        type: 'function',
        function: { name: call.function.name, arguments: '' },
      };
      chunks.push(
        chunks.length === 0
          ? chunk({ role: 'assistant', content: null, refusal: null, tool_calls: [opening] })
          : chunk({ tool_calls: [opening] }),
      );
      const args = call.function.arguments;
      for (let at = 0; at < args.length; at += ARGUMENT_FRAGMENT) {
        chunks.push(
          chunk({ tool_calls: [{ index, function: { arguments: args.slice(at, at + ARGUMENT_FRAGMENT) } }] }),
        );
      }
    }
    chunks.push(chunk({}, finishReason));
    if (includeUsage) chunks.push({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
    return { whole, chunks };
  }

  /** Resolves true after `ms`, or false as soon as the exchange ends (the timer is cleared either way). */
  private sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      this.timers.add(timer);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function defaultAnswer(): FakeAnswer {
  return {};
}

/** "word1 word2 … wordN", N = max(1, min(max_tokens ?? 16, 16)). */
function defaultWords(limit: number | undefined) {
  const count = Math.max(1, Math.min(limit ?? DEFAULT_WORDS, DEFAULT_WORDS));
  return Array.from({ length: count }, (_, i) => `word${i + 1}`).join(' ');
}

/** One piece per word, each (but the first) with its leading whitespace; the pieces join back to `text`. */
function splitWords(text: string): string[] {
  const pieces: string[] = text.match(/\s*\S+/g) ?? [];
  const rest = text.slice(pieces.join('').length);
  if (rest) {
    if (pieces.length > 0) pieces[pieces.length - 1] += rest;
    else pieces.push(rest);
  }
  return pieces;
}

function countWords(text: string) {
  return text.match(/\S+/g)?.length ?? 0;
}

/** The characters of every message's text: string contents and the `text` of content parts. */
function promptCharacters(body: FakeChatRequestBody) {
  let characters = 0;
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    const content = message?.content;
    if (typeof content === 'string') characters += content.length;
    else if (Array.isArray(content)) {
      for (const part of content as { text?: unknown }[]) {
        if (typeof part?.text === 'string') characters += part.text.length;
      }
    }
  }
  return characters;
}

function errorKind(status: number): [string, string | null] {
  if (status === 401) return ['invalid_request_error', 'invalid_api_key'];
  if (status === 404) return ['invalid_request_error', 'model_not_found'];
  if (status === 429) return ['rate_limit_error', 'rate_limit_exceeded'];
  if (status >= 500) return ['server_error', null];
  return ['invalid_request_error', null];
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Cuts the connection once what was written has gone out (FIN, mid-body: the client sees it end early). */
function drop(res: ServerResponse, record: FakeRequest) {
  record.dropped = true;
  if (res.socket) res.socket.destroySoon();
  else res.destroy();
}

function sendJson(res: ServerResponse, status: number, value: unknown) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code: string | null) {
  sendJson(res, status, { error: { message, type, param: null, code } });
}
