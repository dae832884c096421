// A real HTTP server on 127.0.0.1 that answers the four endpoints an agent uses, backed by a
// FakeVillage: the agent runtime talks to it through the real VillageClient and fetch.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeVillage, refuse } from './fake-village.js';
import type { VillageAnswer } from './fake-village.js';

export interface StubRequest {
  method: string;
  path: string;
  body?: unknown;
}

/** Return an answer to send instead of the village's, or undefined to let the village answer. */
export type Interceptor = (request: StubRequest) => { status: number; body: unknown } | undefined;

export interface VillageStubOptions {
  village?: FakeVillage;
  token?: string;
  /** Village ticks that pass on each GET of the agent (one loop). */
  ticksPerLoop?: number;
  intercept?: Interceptor;
  /** Every request, as `GET /api/world`, in order; a test may share it with its brain spy. */
  timeline?: string[];
}

export interface VillageStub {
  url: string;
  village: FakeVillage;
  requests: StubRequest[];
  timeline: string[];
  close(): Promise<void>;
}

export async function startVillageStub(options: VillageStubOptions = {}): Promise<VillageStub> {
  const village = options.village ?? new FakeVillage();
  const token = options.token ?? 'secret-token';
  const requests: StubRequest[] = [];
  const timeline = options.timeline ?? [];

  const answer = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const send = <T>(response: ServerResponse, result: VillageAnswer<T>) =>
    result.ok ? answer(response, 200, result.value) : answer(response, result.status, result.error);

  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const path = request.url ?? '/';
      const method = request.method ?? 'GET';
      const entry: StubRequest = body === undefined ? { method, path } : { method, path, body };
      requests.push(entry);
      timeline.push(`${method} ${path}`);

      if (request.headers.authorization !== `Bearer ${token}`) {
        const refused = refuse(401, 'Unauthorized', 'unknown or revoked token');
        return answer(response, refused.status, refused.error);
      }
      const intercepted = options.intercept?.(entry);
      if (intercepted) return answer(response, intercepted.status, intercepted.body);

      const agentPath = `/api/agents/${village.self.id}`;
      if (method === 'GET' && path === '/api/world') return answer(response, 200, village.world());
      if (method === 'GET' && path === agentPath) {
        village.advance(options.ticksPerLoop ?? 5);
        return answer(response, 200, village.agent());
      }
      if (method === 'POST' && path === `${agentPath}/move`) return send(response, village.move(body));
      if (method === 'POST' && path === `${agentPath}/action`) return send(response, village.act(body));
      const missing = refuse(404, 'Not Found', `no route ${method} ${path}`);
      return answer(response, missing.status, missing.error);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    village,
    requests,
    timeline,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The JSON error body the control plane sends with a status. */
export function apiError(status: number, message: string) {
  return { status, body: refuse(status, 'Error', message).error };
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}
