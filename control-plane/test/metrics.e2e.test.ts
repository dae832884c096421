// /metrics in Prometheus's format, read from a real control plane after real traffic: HTTP latency by
// route template, the ledger, tool calls, viewers, agents, the clock; the optional scrape token; and
// request ids on every log line written while serving a request.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { VillageClient, type Agent } from '../src/contract/index.js';
import { requestLogFields } from '../src/logging/request-context.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  eventually,
  signUpPerson,
  type TestEnvironment,
} from './support/test-app.js';
import { TestViewer } from './support/viewer.js';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/** One sample's value from Prometheus text: `name{labels} value`, labels in any order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([\w:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('metrics and request ids', () => {
  let environment: TestEnvironment;
  let app: NestExpressApplication;
  let url: string;
  let admin: VillageClient;
  let ada: Agent & { token: string };
  const logLines: Record<string, unknown>[] = [];

  const scrape = async (token: string | null = METRICS_TOKEN) => {
    const response = await fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  };

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '100', VILLAGE_METRICS_TOKEN: METRICS_TOKEN });
    const config = loadConfig({ ...environment.env, LOG_LEVEL: 'debug' });
    // The production logger's settings, written to memory.
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line));
        done();
      },
    });
    const logger = pino({ level: 'debug', base: { replica: 'metrics-test' }, mixin: requestLogFields }, sink);
    app = await createApp(config, logger);
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    admin = new VillageClient({ baseUrl: url, token: ADMIN_TOKEN });
    ada = await admin.createAgent({ id: 'ada', displayName: 'Ada', spawn: { x: 5, y: 29 } });
  });

  after(async () => {
    await app?.close();
    await environment?.dispose();
  });

  test('without the scrape token /metrics is refused, and says which setting to send', async () => {
    const refused = await scrape(null);
    assert.equal(refused.status, 401);
    assert.match(refused.text, /VILLAGE_METRICS_TOKEN/);
    assert.equal((await scrape('wrong-token-0123456789abcdef')).status, 401);
    // The admin token is not the scrape token: Prometheus never holds it.
    assert.equal((await scrape(ADMIN_TOKEN)).status, 401);
  });

  test('HTTP latency is counted by route template, method and status', async () => {
    const agentClient = new VillageClient({ baseUrl: url, token: ada.token });
    const before = await scrape();
    const count = (text: string, status: string) =>
      sample(text, 'village_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/agents/:id/move',
        status,
      }) ?? 0;
    await agentClient.move('ada', { dx: 1 });
    await agentClient.move('ada', { dx: -1 });
    const blocked = await fetch(`${url}/api/agents/ada/move`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ x: 500, y: 500 }),
    });
    assert.equal(blocked.status, 422);
    await fetch(`${url}/api/no-such-route`);
    const { status, type, text } = await scrape();
    assert.equal(status, 200);
    assert.match(type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(count(text, '200') - count(before.text, '200'), 2);
    assert.equal(count(text, '422') - count(before.text, '422'), 1);
    // A path with no route is counted under Nest's catch-all template, not under its own path.
    assert.ok(
      (sample(text, 'village_http_request_duration_seconds_count', { route: '/api*path', status: '404' }) ?? 0) >= 1,
    );
    assert.ok(!text.includes('no-such-route'));
    assert.ok(!text.includes('route="/api/agents/ada/move"'), 'ids never become labels');
  });

  test('ledger transfers, tool calls, viewers, agents and the clock', async () => {
    const before = (await scrape()).text;
    const grants = (text: string, name: string) => sample(text, name, { kind: 'posted', reason: 'grant' }) ?? 0;
    await admin.createTransfer({ debitAccount: 'treasury', creditAccount: 'agent:ada', amount: 2500, reason: 'grant' });
    await admin.createTransfer({ debitAccount: 'treasury', creditAccount: 'agent:ada', amount: 500, reason: 'grant' });
    const now = new Date().toISOString();
    await new VillageClient({ baseUrl: url, token: ada.token }).reportToolCalls('ada', [
      {
        callId: 'c-1',
        tool: 'shell',
        action: 'run',
        arguments: { command: 'true' },
        cwd: '/workspace',
        ok: true,
        exitCode: 0,
        output: '',
        error: null,
        durationMs: 120,
        startedAt: now,
        finishedAt: now,
      },
      {
        callId: 'c-2',
        tool: 'shell',
        action: 'run',
        arguments: { command: 'false' },
        cwd: '/workspace',
        ok: false,
        exitCode: 1,
        output: '',
        error: 'exit 1',
        durationMs: 80,
        startedAt: now,
        finishedAt: now,
      },
    ]);
    const viewer = new TestViewer(url);
    try {
      await viewer.ready();
      const text = await eventually(async () => {
        const { text } = await scrape();
        return (sample(text, 'village_tool_calls_total', { tool: 'shell', ok: 'false' }) ?? 0) >= 1 &&
          (sample(text, 'village_tick_duration_seconds_count') ?? 0) >= 3
          ? text
          : undefined;
      }, 'tool calls and ticks in the metrics');
      const counted = (name: string) => grants(text, name) - grants(before, name);
      assert.equal(counted('village_ledger_transfers_total'), 2);
      assert.equal(counted('village_ledger_amount_mills_total'), 3000);
      assert.equal(sample(text, 'village_tool_calls_total', { tool: 'shell', ok: 'true' }), 1);
      assert.equal(sample(text, 'village_tool_call_duration_seconds_count', { tool: 'shell' }), 2);
      assert.equal(sample(text, 'village_viewers'), 1);
      assert.equal(sample(text, 'village_agents', { state: 'online' }), 1);
      assert.ok((sample(text, 'village_world_tick') ?? 0) >= 3);
      assert.equal(sample(text, 'village_clock_leader'), 1);
      assert.ok((sample(text, 'village_events_total', { type: 'economy.balance_changed' }) ?? 0) >= 2);
      assert.ok(sample(text, 'village_llm_queue_recent_wait_seconds', { quantile: '0.99' }) !== undefined);
      assert.equal(sample(text, 'village_payment_queue_jobs', { state: 'waiting' }), 0);
      assert.ok((sample(text, 'process_cpu_seconds_total') ?? 0) > 0, 'the process metrics are there too');
      assert.equal(sample(text, 'village_metrics_source_errors_total'), undefined, 'no source failed');
    } finally {
      viewer.close();
    }
    await eventually(async () => sample((await scrape()).text, 'village_viewers') === 0, 'the viewer to be gone');
  });

  test('every log line written while serving a request carries its id, the proxy’s when it sent one', async () => {
    const { session } = await signUpPerson(url, 'tracer');
    const refresh = (requestId: string) =>
      fetch(`${url}/api/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': requestId },
        body: JSON.stringify({ refreshToken: session.refreshToken }),
      });
    assert.equal((await refresh('proxy-req-0001')).status, 200);
    // The same refresh token again, after the rotation's 10 s grace, is a reuse: the session is revoked and a
    // warning logged deep in the service, after several awaits on PostgreSQL.
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    const reused = await refresh('proxy-req-0002');
    assert.equal(reused.status, 401);
    assert.equal(reused.headers.get('x-request-id'), 'proxy-req-0002');
    const warning = await eventually(
      () => logLines.find((line) => line.msg === 'refresh token reuse: session revoked'),
      'the reuse warning',
    );
    assert.equal(warning.requestId, 'proxy-req-0002');
    assert.equal(warning.replica, 'metrics-test');
    const access = logLines.filter((line) => line.msg === 'request' && line.requestId === 'proxy-req-0002');
    assert.equal(access.length, 1, 'one access-log line for the request');
    // Outside a request (the clock), no request id.
    const tickLog = logLines.find((line) => line.requestId === undefined && line.msg !== 'request');
    assert.ok(tickLog);
  });
});
