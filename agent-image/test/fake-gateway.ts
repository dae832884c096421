// A minimal stand-in for the village's LLM gateway (`<villageUrl>/v1`) on loopback, for the LLM
// brain's unit tests: `GET /v1/models` lists what the test says the tier allows, `POST
// /v1/chat/completions` answers with the tool calls or the OpenAI-style error the test scripts, and
// every request is written down. It plays the gateway's side of the contract (402 insufficient_quota,
// 429 with Retry-After, 403 agent_paused, 503 no_upstream), which the real `openai` client in the brain
// reads exactly as it reads the real gateway's.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatRequest {
  model: string;
  body: {
    model: string;
    messages: { role: string; content: string }[];
    tools?: { type: string; function: { name: string } }[];
    max_tokens?: number;
    stream?: boolean;
  };
  headers: IncomingHttpHeaders;
}

/** What the fake sends back: a status, a JSON body and headers. */
export interface FakeReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (a slow model). */
  delayMs?: number;
}

export type ChatHandler = (request: ChatRequest) => FakeReply;

export interface FakeGateway {
  /** `http://127.0.0.1:<port>/v1`, the brain's `gatewayUrl`. */
  readonly baseUrl: string;
  /** What `GET /v1/models` lists; the test may change it at any time. */
  models: string[];
  /** `GET /v1/models` requests served. */
  listings: number;
  /** Chat completion requests, in order. */
  readonly requests: ChatRequest[];
  /** Answers the next chat requests, in order; once they are used up, `fallback` answers. */
  queue(...replies: (FakeReply | ChatHandler)[]): void;
  fallback: ChatHandler;
  close(): Promise<void>;
}

export interface ToolCall {
  name: string;
  arguments: string | Record<string, unknown>;
}

let completions = 0;

/** A chat completion that calls these tools (usage: 40 prompt + 10 completion tokens by default). */
export function toolCalls(calls: ToolCall[], usage = { prompt: 40, completion: 10 }): FakeReply {
  completions++;
  return {
    status: 200,
    body: {
      id: `chatcmpl-fake-${completions}`,
      object: 'chat.completion',
      created: 0,
      model: 'fake',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: calls.map((call, index) => ({
              id: `call_${completions}_${index}`,
              type: 'function',
              function: {
                name: call.name,
                arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
              },
            })),
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: usage.prompt,
        completion_tokens: usage.completion,
        total_tokens: usage.prompt + usage.completion,
      },
    },
  };
}

/** A chat completion that only talks. */
export function words(content: string): FakeReply {
  const reply = toolCalls([]);
  const body = reply.body as { choices: { message: { content: string | null; tool_calls?: unknown } }[] };
  body.choices[0]!.message = { content } as never;
  return reply;
}

/** An OpenAI-style error, as the gateway sends them. */
export function gatewayError(
  status: number,
  code: string | null,
  message: string,
  headers: Record<string, string> = {},
): FakeReply {
  return { status, headers, body: { error: { message, type: 'gateway_error', code, param: null } } };
}

/** Starts the fake on a free loopback port (or on `port`). */
export async function startFakeGateway(models: string[] = [], port = 0): Promise<FakeGateway> {
  const pending: (FakeReply | ChatHandler)[] = [];
  const state = {
    models,
    listings: 0,
    requests: [] as ChatRequest[],
    fallback: (() => toolCalls([{ name: 'idle', arguments: { why: 'nothing to do' } }])) as ChatHandler,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = ({ status, body, headers = {}, delayMs = 0 }: FakeReply) => {
        const timer = setTimeout(() => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(body));
        }, delayMs);
        res.once('close', () => clearTimeout(timer));
      };
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/v1/models') {
        state.listings++;
        send({
          status: 200,
          body: {
            object: 'list',
            data: state.models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'village' })),
          },
        });
        return;
      }
      if (req.method === 'POST' && path === '/v1/chat/completions') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest['body'];
        const request: ChatRequest = { model: body.model, body, headers: req.headers };
        state.requests.push(request);
        const next = pending.shift() ?? state.fallback;
        send(typeof next === 'function' ? next(request) : next);
        return;
      }
      send(gatewayError(404, 'not_found', `no route ${req.method} ${path}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const listening = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${listening}/v1`,
    get models() {
      return state.models;
    },
    set models(list: string[]) {
      state.models = list;
    },
    get listings() {
      return state.listings;
    },
    set listings(count: number) {
      state.listings = count;
    },
    requests: state.requests,
    queue: (...replies) => pending.push(...replies),
    get fallback() {
      return state.fallback;
    },
    set fallback(handler: ChatHandler) {
      state.fallback = handler;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback URL where nothing listens (a port that was free a moment ago). */
export async function deadGatewayUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}
