import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { eventually } from './support/eventually.js';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamOptions } from './support/fake-llm-upstream.js';

// The fake LLM upstream, driven by the real openai client: what the gateway's tests lean on.

const messages = [{ role: 'user' as const, content: 'Hello there, village!' }]; // 21 characters: 6 prompt tokens

let fake: FakeUpstream | undefined;

async function start(options?: FakeUpstreamOptions) {
  fake = await startFakeUpstream(options);
  return fake;
}

function clientFor(upstream: FakeUpstream, options: { timeout?: number; apiKey?: string } = {}) {
  return new OpenAI({
    baseURL: upstream.baseUrl,
    apiKey: options.apiKey ?? 'x',
    maxRetries: 0,
    timeout: options.timeout ?? 10_000,
    logLevel: 'off',
  });
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>) {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe('the fake LLM upstream', () => {
  test('lists its models', async () => {
    const upstream = await start({ models: ['llama-3-8b', 'qwen-2'], name: 'node-a' });
    assert.match(upstream.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const page = await clientFor(upstream).models.list();
    assert.deepEqual(
      page.data.map((model) => [model.id, model.object, model.owned_by]),
      [
        ['llama-3-8b', 'model', 'node-a'],
        ['qwen-2', 'model', 'node-a'],
      ],
    );
    assert.equal(upstream.modelListings, 1);
  });

  test('answers without streaming, deterministically, with usage', async () => {
    const upstream = await start();
    const client = clientFor(upstream);
    const full = await client.chat.completions.create({ model: 'fake-model', messages });
    assert.equal(full.object, 'chat.completion');
    assert.equal(full.model, 'fake-model');
    assert.equal(full.choices[0]?.message.content, Array.from({ length: 16 }, (_, i) => `word${i + 1}`).join(' '));
    assert.equal(full.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(full.usage, { prompt_tokens: 6, completion_tokens: 16, total_tokens: 22 });

    const short = await client.chat.completions.create({ model: 'other', messages, max_tokens: 3 });
    assert.equal(short.choices[0]?.message.content, 'word1 word2 word3');
    assert.equal(short.choices[0]?.finish_reason, 'length');
    assert.equal(short.model, 'other');
    assert.deepEqual(short.usage, { prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 });

    assert.equal(upstream.requests.length, 2);
    const [first] = upstream.requests;
    assert.equal(first?.body.model, 'fake-model');
    assert.deepEqual(first?.body.messages, messages);
    assert.equal(first?.headers.authorization, 'Bearer x');
    assert.equal(first?.stream, false);
    assert.equal(first?.status, 200);
    assert.equal(first?.completed, true);
    assert.equal(first?.clientWentAway, false);
    assert.equal(upstream.completed, 2);
    assert.equal(upstream.inFlight, 0);
  });

  test('streams one word per chunk and, with include_usage, a last chunk of usage and no choices', async () => {
    const upstream = await start();
    const stream = await clientFor(upstream).chat.completions.create({
      model: 'fake-model',
      messages,
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    assert.ok(chunks.every((chunk) => chunk.object === 'chat.completion.chunk'));
    const words = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? ''));
    assert.equal(words.join(''), 'word1 word2 word3 word4');
    assert.deepEqual(chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content)).filter(Boolean), [
      'word1',
      ' word2',
      ' word3',
      ' word4',
    ]);
    assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    const last = chunks.at(-1);
    assert.deepEqual(last?.choices, []);
    assert.deepEqual(last?.usage, { prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
    assert.ok(chunks.slice(0, -1).every((chunk) => chunk.usage === null));
    assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, 'length');
    assert.equal(upstream.requests[0]?.chunksSent, chunks.length + 1, 'the chunks and [DONE]');

    const plain = await collect(
      await clientFor(upstream).chat.completions.create({ model: 'fake-model', messages, stream: true }),
    );
    assert.ok(plain.every((chunk) => chunk.usage === undefined && chunk.choices.length === 1));
    assert.equal(plain.at(-1)?.choices[0]?.finish_reason, 'stop');
  });

  test('scripted answers: content, and tool calls without streaming', async () => {
    const upstream = await start({ respond: () => ({ content: 'Scripted by the option.' }) });
    const client = clientFor(upstream);
    const scripted = await client.chat.completions.create({ model: 'fake-model', messages });
    assert.equal(scripted.choices[0]?.message.content, 'Scripted by the option.');
    assert.equal(scripted.usage?.completion_tokens, 4);

    await upstream.behave({
      respond: (body) => ({
        toolCalls: [
          { name: 'look_around', arguments: '{}' },
          { name: 'say', arguments: JSON.stringify({ text: `to ${body.model}` }) },
        ],
        completionTokens: 7,
      }),
    });
    const called = await client.chat.completions.create({ model: 'fake-model', messages });
    const choice = called.choices[0];
    assert.equal(choice?.finish_reason, 'tool_calls');
    assert.equal(choice?.message.content, null);
    assert.deepEqual(choice?.message.tool_calls, [
      { id: 'call_1', type: 'function', function: { name: 'look_around', arguments: '{}' } },
      { id: 'call_2', type: 'function', function: { name: 'say', arguments: '{"text":"to fake-model"}' } },
    ]);
    assert.equal(called.usage?.completion_tokens, 7);

    const again = await client.chat.completions.create({ model: 'fake-model', messages });
    assert.equal(again.choices[0]?.message.content, 'Scripted by the option.', 'the behaviour was one-shot');
  });

  test('streams tool calls as OpenAI does: an opening chunk with id and name, then argument fragments', async () => {
    const upstream = await start();
    const args = JSON.stringify({ text: 'a long enough message to need several fragments' });
    const script = { respond: () => ({ toolCalls: [{ name: 'say', arguments: args }] }) };
    await upstream.behave(script, 2);
    const client = clientFor(upstream);

    const chunks = await collect(await client.chat.completions.create({ model: 'fake-model', messages, stream: true }));
    const deltas = chunks.flatMap((chunk) => chunk.choices.flatMap((choice) => choice.delta.tool_calls ?? []));
    assert.ok(deltas.length > 2);
    assert.deepEqual(deltas[0], { index: 0, id: 'call_1', type: 'function', function: { name: 'say', arguments: '' } });
    assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    for (const delta of deltas.slice(1)) {
      assert.equal(delta.id, undefined);
      assert.equal(delta.function?.name, undefined);
    }
    assert.equal(deltas.map((delta) => delta.function?.arguments ?? '').join(''), args);
    assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'tool_calls');

    // The openai client's own accumulator puts them back together.
    const helper = client.chat.completions.stream({ model: 'fake-model', messages });
    const final = await helper.finalChatCompletion();
    assert.deepEqual(final.choices[0]?.message.tool_calls, [
      { id: 'call_2', type: 'function', function: { name: 'say', arguments: args } },
    ]);
    assert.equal(final.choices[0]?.finish_reason, 'tool_calls');
  });

  test('an HTTP error surfaces as OpenAI.APIError with the status, streaming or not', async () => {
    const upstream = await start();
    const client = clientFor(upstream);
    await upstream.behave({ status: 503, message: 'the GPU is busy' }, 2);
    await assert.rejects(client.chat.completions.create({ model: 'fake-model', messages }), (error) => {
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 503);
      assert.match(error.message, /the GPU is busy/);
      assert.equal(error.type, 'server_error');
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: 'fake-model', messages, stream: true }), (error) => {
      assert.ok(error instanceof OpenAI.InternalServerError);
      assert.equal(error.status, 503);
      return true;
    });
    await upstream.behave({ status: 429, message: 'slow down', headers: { 'retry-after': '1' } });
    await assert.rejects(client.chat.completions.create({ model: 'fake-model', messages }), (error) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, 'rate_limit_exceeded');
      assert.equal(error.headers?.get('retry-after'), '1');
      return true;
    });
    const fine = await client.chat.completions.create({ model: 'fake-model', messages });
    assert.equal(fine.choices[0]?.message.content?.split(' ').length, 16);
    assert.deepEqual(
      upstream.requests.map((request) => request.status),
      [503, 503, 429, 200],
    );
  });

  test('a queue of one-shot behaviours in front of a default', async () => {
    const upstream = await start();
    const client = clientFor(upstream);
    await upstream.behave({ status: 500 }, 'always');
    await upstream.behave({ respond: () => ({ content: 'once' }) });
    const first = await client.chat.completions.create({ model: 'fake-model', messages });
    assert.equal(first.choices[0]?.message.content, 'once');
    for (let i = 0; i < 2; i++) {
      await assert.rejects(client.chat.completions.create({ model: 'fake-model', messages }), { status: 500 });
    }
    await upstream.reset();
    assert.equal(upstream.requests.length, 0);
    assert.equal(upstream.completed, 0);
    const after = await client.chat.completions.create({ model: 'fake-model', messages });
    assert.equal(after.choices[0]?.message.content?.startsWith('word1'), true);
  });

  test('checks the bearer key when it has one', async () => {
    const upstream = await start({ apiKey: 'sekrit' });
    await assert.rejects(clientFor(upstream).chat.completions.create({ model: 'fake-model', messages }), (error) => {
      assert.ok(error instanceof OpenAI.AuthenticationError);
      assert.equal(error.status, 401);
      assert.equal(error.code, 'invalid_api_key');
      return true;
    });
    await assert.rejects(clientFor(upstream).models.list(), { status: 401 });
    const ok = await clientFor(upstream, { apiKey: 'sekrit' }).chat.completions.create({
      model: 'fake-model',
      messages,
    });
    assert.equal(ok.choices.length, 1);
    assert.equal(upstream.requests.length, 1, 'rejected requests are not recorded');
  });

  test('a connection dropped mid-stream raises an error in the iterator', async () => {
    const upstream = await start();
    await upstream.behave({ dropAfterChunks: 3 });
    const stream = await clientFor(upstream).chat.completions.create({ model: 'fake-model', messages, stream: true });
    const received: ChatCompletionChunk[] = [];
    await assert.rejects(async () => {
      for await (const chunk of stream) received.push(chunk);
    });
    assert.equal(received.length, 3);
    const [request] = upstream.requests;
    assert.equal(request?.dropped, true);
    assert.equal(request?.clientWentAway, false);
    assert.equal(request?.completed, false);
    await eventually(() => upstream.inFlight === 0, 'the dropped request to end');

    await upstream.behave({ dropAfterChunks: 1 });
    await assert.rejects(clientFor(upstream).chat.completions.create({ model: 'fake-model', messages }));
  });

  test('garbage raises, streaming or not', async () => {
    const upstream = await start();
    const client = clientFor(upstream);
    await upstream.behave({ garbage: true }, 2);
    await assert.rejects(client.chat.completions.create({ model: 'fake-model', messages }), SyntaxError);
    const stream = await client.chat.completions.create({ model: 'fake-model', messages, stream: true });
    await assert.rejects(collect(stream), SyntaxError);
  });

  test('a stall hits the client timeout; the fake sees the client go away', async () => {
    const upstream = await start();
    await upstream.behave({ stall: true });
    const started = Date.now();
    await assert.rejects(
      clientFor(upstream, { timeout: 300 }).chat.completions.create({ model: 'fake-model', messages }),
      OpenAI.APIConnectionTimeoutError,
    );
    assert.ok(Date.now() - started >= 250);
    await eventually(() => upstream.requests[0]?.clientWentAway, 'the client to go away');
    assert.equal(upstream.inFlight, 0);
    assert.equal(upstream.requests[0]?.status, undefined);
  });

  test('a stall mid-stream keeps the connection open with no more data; usage can be scripted', async () => {
    const upstream = await start();
    await upstream.behave({ stallAfterChunks: 3 });
    const abort = new AbortController();
    const stream = await clientFor(upstream).chat.completions.create(
      { model: 'fake-model', messages, stream: true },
      { signal: abort.signal },
    );
    const received: ChatCompletionChunk[] = [];
    // Nothing comes after the third event; the client's abort ends the iteration (quietly, as openai does).
    for await (const chunk of stream) {
      received.push(chunk);
      if (received.length === 3) setTimeout(() => abort.abort(), 100);
    }
    assert.equal(received.length, 3);
    await eventually(() => upstream.requests[0]?.clientWentAway, 'the client to go away');

    await upstream.behave({ respond: () => ({ content: 'hi', promptTokens: 9000 }) });
    const answer = await clientFor(upstream).chat.completions.create({ model: 'fake-model', messages });
    assert.equal(answer.usage?.prompt_tokens, 9000);
  });

  test('delays the first byte, and counts requests in flight', async () => {
    const upstream = await start();
    const client = clientFor(upstream);
    await upstream.behave({ delayMs: 150 }, 'always');
    const started = Date.now();
    const answers = await Promise.all(
      [1, 2, 3].map(() => client.chat.completions.create({ model: 'fake-model', messages })),
    );
    assert.ok(Date.now() - started >= 140);
    assert.equal(answers.length, 3);
    assert.equal(upstream.maxInFlight, 3);
    assert.equal(upstream.inFlight, 0);
    assert.equal(upstream.completed, 3);
  });

  test('a client that leaves mid-stream is recorded, and generation stops', async () => {
    const upstream = await start();
    await upstream.behave({ chunkDelayMs: 30 });
    const stream = await clientFor(upstream).chat.completions.create({ model: 'fake-model', messages, stream: true });
    let seen = 0;
    for await (const _chunk of stream) {
      if (++seen === 2) break; // aborts the request
    }
    const request = await eventually(
      () => (upstream.requests[0]?.clientWentAway ? upstream.requests[0] : undefined),
      'the client to go away',
    );
    assert.equal(upstream.inFlight, 0);
    const sent = request.chunksSent;
    assert.ok(sent < 10, `stopped early (${sent} chunks)`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(request.chunksSent, sent, 'no more chunks after the client left');
    assert.equal(request.completed, false);
  });

  test('refuses connections, then accepts them again on the same port', async () => {
    const upstream = await start();
    const client = clientFor(upstream);
    const baseUrl = upstream.baseUrl;
    await client.chat.completions.create({ model: 'fake-model', messages }); // leaves a keep-alive connection
    await upstream.behave({ refuseConnections: true });
    await assert.rejects(client.chat.completions.create({ model: 'fake-model', messages }), (error) => {
      assert.ok(error instanceof OpenAI.APIConnectionError);
      assert.ok(!(error instanceof OpenAI.APIConnectionTimeoutError));
      return true;
    });
    assert.equal(upstream.requests.length, 1);
    await upstream.behave({ refuseConnections: false });
    assert.equal(upstream.baseUrl, baseUrl);
    const answer = await client.chat.completions.create({ model: 'fake-model', messages });
    assert.equal(answer.choices.length, 1);
  });

  test('close() ends stalled and slow requests at once', async () => {
    const upstream = await start();
    await upstream.behave({ stall: true });
    await upstream.behave({ chunkDelayMs: 60_000 });
    const client = clientFor(upstream);
    const stalled = client.chat.completions.create({ model: 'fake-model', messages });
    const slow = await client.chat.completions.create({ model: 'fake-model', messages, stream: true });
    await eventually(() => upstream.inFlight === 2, 'both requests to arrive');
    const failures = [assert.rejects(stalled, OpenAI.APIConnectionError), assert.rejects(collect(slow))];
    const started = Date.now();
    await upstream.close();
    assert.ok(Date.now() - started < 1_000);
    await Promise.all(failures);
    assert.equal(upstream.inFlight, 0);
  });
});
