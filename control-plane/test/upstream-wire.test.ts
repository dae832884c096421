import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { sseData } from '../src/compute/sse-events.js';
import { upstreamFetch } from '../src/compute/upstream-fetch.js';

// How the gateway reads upstreams: server-sent events split as written, and the `fetch` its openai clients use.

async function* reads(...chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield new TextEncoder().encode(chunk);
}

async function eventsOf(...chunks: string[]) {
  const batches: string[][] = [];
  for await (const batch of sseData(reads(...chunks))) batches.push(batch);
  return batches;
}

describe('server-sent events from an upstream', () => {
  test('each event of a read, its data as written', async () => {
    assert.deepEqual(await eventsOf('data: {"a":1}\n\ndata: {"b":2}\n\n'), [['{"a":1}', '{"b":2}']]);
  });

  test('an event split across reads, in the middle of a line and of a character', async () => {
    const bytes = new TextEncoder().encode('data: {"say":"café"}\n\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of é
    const batches: string[][] = [];
    async function* split() {
      yield bytes.slice(0, 5);
      yield bytes.slice(5, cut);
      yield bytes.slice(cut);
    }
    for await (const batch of sseData(split())) batches.push(batch);
    assert.deepEqual(batches, [['{"say":"café"}']]);
  });

  test('CRLF line ends, a CR and its LF in different reads, comments, fields other than data, several data lines', async () => {
    assert.deepEqual(
      await eventsOf(': keep-alive\r\n\r\nevent: x\r\ndata: one\r', '\ndata: two\r\n\r\nid: 3\n\ndata:[DONE]\n\n'),
      [['one\ntwo', '[DONE]']],
    );
  });

  test('a last event without its blank line still counts; a stream of no events yields nothing', async () => {
    assert.deepEqual(await eventsOf('data: {"usage":1}'), [['{"usage":1}']]);
    assert.deepEqual(await eventsOf('{"not":"sse"}'), []);
  });
});

describe("the openai clients' fetch", () => {
  let server: http.Server;
  let baseURL: string;
  const seen: { method?: string; url?: string; auth?: string; body: string }[] = [];

  before(async () => {
    server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen.push({ method: request.method, url: request.url, auth: request.headers.authorization, body });
        if (request.url === '/v1/stall') return; // never answers
        if (request.url === '/v1/models') {
          response.writeHead(401, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: { message: 'bad key', type: 'invalid_request_error' } }));
          return;
        }
        const stream = (JSON.parse(body) as { stream?: boolean }).stream;
        if (!stream) {
          response.writeHead(200, { 'content-type': 'application/json', 'x-extra': 'yes' });
          response.end(JSON.stringify({ id: 'c1', object: 'chat.completion', choices: [], usage: null }));
          return;
        }
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write('data: {"id":"c2","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n');
        setTimeout(() => response.end('data: [DONE]\n\n'), 20);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const client = () => new OpenAI({ baseURL, apiKey: 'k', maxRetries: 0, timeout: 300, fetch: upstreamFetch() });
  const request = { model: 'm', messages: [{ role: 'user' as const, content: 'é' }] };

  test('an answer, with its headers, the key and the body sent as given', async () => {
    const { data, response } = await client().chat.completions.create(request).withResponse();
    assert.equal(data.id, 'c1');
    assert.equal(response.headers.get('x-extra'), 'yes');
    const last = seen.at(-1)!;
    assert.equal(last.method, 'POST');
    assert.equal(last.url, '/v1/chat/completions');
    assert.equal(last.auth, 'Bearer k');
    assert.deepEqual(JSON.parse(last.body), request);
  });

  test('a stream, through the client', async () => {
    const chunks = [];
    for await (const chunk of await client().chat.completions.create({ ...request, stream: true })) chunks.push(chunk);
    assert.deepEqual(
      chunks.map((chunk) => chunk.choices[0]?.delta.content),
      ['hi'],
    );
  });

  test('a kept-alive connection the upstream drops as it is reused: the call goes once more on a new one', async () => {
    const served = new WeakMap<object, number>();
    const dropping = http.createServer((request, response) => {
      const count = (served.get(request.socket) ?? 0) + 1;
      served.set(request.socket, count);
      // The second call on a kept-alive connection finds it gone (reset), as when it was closed just then.
      if (count === 2) return request.socket.resetAndDestroy();
      request.resume();
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: `c${count}`, object: 'chat.completion', choices: [] }));
    });
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    try {
      const port = (dropping.address() as AddressInfo).port;
      const kept = new OpenAI({
        baseURL: `http://127.0.0.1:${port}/v1`,
        apiKey: 'k',
        maxRetries: 0,
        fetch: upstreamFetch(),
      });
      assert.equal((await kept.chat.completions.create(request)).id, 'c1');
      assert.equal((await kept.chat.completions.create(request)).id, 'c1', 'answered on a new connection');
    } finally {
      dropping.closeAllConnections();
      await new Promise((resolve) => dropping.close(resolve));
    }
  });

  test("an upstream's refusal, a timeout and a refused connection are the client's own errors", async () => {
    await assert.rejects(client().models.list(), (error) => error instanceof OpenAI.AuthenticationError);
    await assert.rejects(
      client().post('/stall', { body: {}, timeout: 200 }),
      (error) => error instanceof OpenAI.APIConnectionTimeoutError,
    );
    const closed = new OpenAI({
      baseURL: 'http://127.0.0.1:1/v1',
      apiKey: 'k',
      maxRetries: 0,
      fetch: upstreamFetch(),
    });
    await assert.rejects(
      closed.chat.completions.create(request),
      (error) => error instanceof OpenAI.APIConnectionError && !(error instanceof OpenAI.APIConnectionTimeoutError),
    );
  });
});
