import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AgentAuthError, runAgent } from '../src/agent-loop.js';
import type { RunAgentOptions } from '../src/agent-loop.js';
import type { Brain } from '../src/brains/brain.js';
import { ScriptedBrain } from '../src/brains/scripted-brain.js';
import type { AgentConfig } from '../src/config.js';
import { StructuredLog } from '../src/structured-log.js';
import { FakeVillage } from './fake-village.js';
import { apiError, startVillageStub } from './village-stub-server.js';
import type { VillageStub, VillageStubOptions } from './village-stub-server.js';

const WORLD = 'GET /api/world';
const SELF = 'GET /api/agents/ada';
const MOVE = 'POST /api/agents/ada/move';
const ACTION = 'POST /api/agents/ada/action';

const stubs: VillageStub[] = [];
after(() => Promise.all(stubs.map((stub) => stub.close())));

async function stub(options: VillageStubOptions = {}): Promise<VillageStub> {
  const started = await startVillageStub(options);
  stubs.push(started);
  return started;
}

function configFor(url: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    villageUrl: url,
    agentId: 'ada',
    agentToken: 'secret-token',
    loopMs: 5,
    seed: 'ada',
    brain: 'scripted',
    ...overrides,
  };
}

interface LogLine {
  level: string;
  agent: string;
  phase: string;
  message?: string;
  intent?: string;
  status?: number;
  retryInMs?: number;
  fatal?: boolean;
  recovered?: boolean;
}

function capturedLog() {
  const out: LogLine[] = [];
  const err: LogLine[] = [];
  const sink = (lines: LogLine[]) => ({ write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  return { log: new StructuredLog({ agent: 'ada', stdout: sink(out), stderr: sink(err) }), out, err };
}

/** The scripted brain, with its decide and reflect calls written into the stub's timeline. */
function spyBrain(timeline: string[], onReflect: (reflects: number) => void): Brain {
  const inner = new ScriptedBrain({ seed: 'ada' });
  let reflects = 0;
  return {
    kind: inner.kind,
    decide(perception) {
      timeline.push('decide');
      return inner.decide(perception);
    },
    reflect(perception, outcomes) {
      timeline.push('reflect');
      inner.reflect(perception, outcomes);
      onReflect(++reflects);
    },
  };
}

/** Records every wait instead of waiting; the loop's own timing shows in the numbers. */
function recordedSleeps() {
  const sleeps: number[] = [];
  const sleep: NonNullable<RunAgentOptions['sleep']> = async (ms) => {
    sleeps.push(ms);
    await nextTurn();
  };
  return { sleeps, sleep };
}

/** Runs the scripted brain for `reflects` loops, every wait recorded, the random parts at their minimum. */
async function runForLoops(village: VillageStub, reflects: number) {
  const controller = new AbortController();
  const { sleeps, sleep } = recordedSleeps();
  const { log, out, err } = capturedLog();
  const brain = spyBrain([], (count) => count === reflects && controller.abort());
  const summary = await runAgent(configFor(village.url, { loopMs: 100 }), {
    signal: controller.signal,
    brain,
    log,
    sleep,
    random: () => 0,
  });
  return { summary, sleeps, out, err };
}

/** The timeline cut into loops, one per reflect. */
function loopsOf(timeline: string[]): string[][] {
  const loops: string[][] = [[]];
  for (const entry of timeline) {
    loops.at(-1)!.push(entry);
    if (entry === 'reflect') loops.push([]);
  }
  return loops;
}

// A loop that fails to stop would hang the run; the timeout turns that into a failure.
describe('agent loop against a real HTTP server', { timeout: 10_000 }, () => {
  it('perceives, decides, acts and reflects in that order, fetching the world every few loops', async () => {
    const timeline: string[] = [];
    const fake = new FakeVillage();
    const movesWhileWalking: unknown[] = [];
    const village = await stub({
      timeline,
      village: fake,
      intercept: (request) => {
        if (request.path.endsWith('/move') && fake.self.walking) movesWhileWalking.push(request.body);
        return undefined;
      },
    });
    const controller = new AbortController();
    const brain = spyBrain(timeline, (reflects) => reflects === 12 && controller.abort());
    const { log, out, err } = capturedLog();

    const summary = await runAgent(configFor(village.url), {
      signal: controller.signal,
      brain,
      log,
      worldRefreshLoops: 5,
      random: () => 0.5,
    });

    assert.equal(summary.loops, 12);
    const loops = loopsOf(timeline);
    assert.deepEqual(loops.pop(), [], 'a request after the stop');
    assert.equal(loops.length, 12);
    loops.forEach((loop, index) => {
      const perceive = index % 5 === 0 ? [WORLD, SELF] : [SELF];
      assert.deepEqual(
        loop.slice(0, perceive.length + 1),
        [...perceive, 'decide'],
        `loop ${index + 1}: ${loop.join(', ')}`,
      );
      const acts = loop.slice(perceive.length + 1, -1);
      assert.ok(
        acts.every((entry) => entry === MOVE || entry === ACTION),
        `loop ${index + 1}: ${loop.join(', ')}`,
      );
      assert.equal(loop.at(-1), 'reflect');
    });
    assert.ok(timeline.includes(MOVE), 'never moved');
    assert.ok(timeline.indexOf(ACTION) > timeline.indexOf(MOVE), 'never spoke after walking');
    // The walk happened on the server, and the brain waited for it instead of moving again.
    assert.deepEqual(movesWhileWalking, []);
    assert.ok(fake.said.length > 0);

    assert.deepEqual(err, [], 'errors on a good day');
    assert.ok(out.every((line) => line.agent === 'ada' && line.level === 'info'));
    assert.ok(out.some((line) => line.phase === 'act' && line.intent?.startsWith('move:')));
    assert.ok(out.some((line) => line.phase === 'act' && line.intent === 'say'));
    assert.equal(out.at(-1)?.phase, 'stop');
    assert.ok(summary.memory.some((episode) => episode.intent.kind === 'move' && episode.status === 'done'));
  });

  it('backs off exponentially on 503 while perceiving, then carries on', async () => {
    let failures = 3;
    const village = await stub({
      intercept: (request) =>
        request.method === 'GET' && request.path === '/api/agents/ada' && failures-- > 0
          ? apiError(503, 'database unavailable')
          : undefined,
    });
    const { sleeps, out, err } = await runForLoops(village, 2);

    // Start offset, three back-offs doubling from 2× the period (less the random quarter), one normal period.
    assert.deepEqual(sleeps, [0, 150, 300, 600, 85]);
    assert.deepEqual(village.requests.map((request) => `${request.method} ${request.path}`).slice(0, 5), [
      WORLD,
      SELF,
      SELF,
      SELF,
      SELF,
    ]);
    assert.equal(err.length, 3);
    for (const [index, line] of err.entries()) {
      assert.equal(line.level, 'error');
      assert.equal(line.agent, 'ada');
      assert.equal(line.phase, 'perceive');
      assert.equal(line.status, 503);
      assert.match(line.message ?? '', /503.*database unavailable/);
      assert.equal(line.retryInMs, sleeps[index + 1]);
    }
    assert.ok(out.some((line) => line.recovered === true));
  });

  it('backs off when an action fails with 503 and tries the same move again', async () => {
    let failures = 1;
    const village = await stub({
      intercept: (request) =>
        request.path.endsWith('/move') && failures-- > 0 ? apiError(503, 'world tick overloaded') : undefined,
    });
    const { sleeps, err } = await runForLoops(village, 3);

    const moves = village.requests.filter((request) => request.path.endsWith('/move'));
    assert.ok(moves.length >= 2, `${moves.length} moves`);
    assert.deepEqual(moves[1]!.body, moves[0]!.body, 'the retried move went elsewhere');
    assert.equal(sleeps[1], 150, 'no back-off after the failed move');
    assert.equal(err.length, 1);
    assert.equal(err[0]!.phase, 'act');
    assert.equal(err[0]!.status, 503);
    assert.match(err[0]!.intent ?? '', /^move:/);
  });

  it('backs off when the control plane cannot be reached at all', async () => {
    const gone = await startVillageStub();
    await gone.close();
    const controller = new AbortController();
    const { log, err } = capturedLog();
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      if (sleeps.length === 4) controller.abort();
      await nextTurn();
    };

    await runAgent(configFor(gone.url, { loopMs: 100 }), { signal: controller.signal, log, sleep, random: () => 1 });

    assert.deepEqual(sleeps, [100, 200, 400, 800]);
    assert.equal(err.length, 3);
    assert.ok(
      err.every((line) => line.phase === 'perceive' && /fetch failed/.test(line.message ?? '')),
      JSON.stringify(err),
    );
  });

  it('caps the back-off', async () => {
    const village = await stub({ intercept: () => apiError(502, 'bad gateway') });
    const controller = new AbortController();
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      if (sleeps.length === 12) controller.abort();
      await nextTurn();
    };

    await runAgent(configFor(village.url, { loopMs: 1000 }), {
      signal: controller.signal,
      log: capturedLog().log,
      sleep,
      random: () => 1,
    });

    assert.deepEqual(sleeps.slice(1, 6), [2000, 4000, 8000, 16000, 30000]);
    assert.ok(sleeps.slice(5).every((ms) => ms === 30000));
  });

  it('stops with an error when the token is refused (401)', async () => {
    const village = await stub({ token: 'the-real-token' });
    const { log, err } = capturedLog();

    await assert.rejects(runAgent(configFor(village.url, { agentToken: 'revoked' }), { log }), (error) => {
      assert.ok(error instanceof AgentAuthError);
      assert.equal(error.status, 401);
      assert.match(error.message, /VILLAGE_AGENT_TOKEN is wrong or revoked/);
      return true;
    });
    assert.equal(village.requests.length, 1, 'kept calling after a 401');
    assert.deepEqual(
      err.map((line) => [line.level, line.phase, line.status, line.fatal]),
      [['error', 'perceive', 401, true]],
    );
  });

  it('stops with an error when an action is forbidden (403)', async () => {
    const village = await stub({
      intercept: (request) => (request.method === 'POST' ? apiError(403, 'agent suspended') : undefined),
    });
    const { log, err } = capturedLog();

    await assert.rejects(runAgent(configFor(village.url), { log }), (error) => {
      assert.ok(error instanceof AgentAuthError);
      assert.equal(error.status, 403);
      assert.equal(error.phase, 'act');
      return true;
    });
    assert.equal(village.requests.filter((request) => request.method === 'POST').length, 1);
    assert.equal(err.at(-1)?.fatal, true);
  });

  it('tells the brain when an action is refused (422), and the brain goes elsewhere without back-off', async () => {
    const village = await stub({
      intercept: (request) =>
        request.path.endsWith('/move') && (request.body as { landmark?: string }).landmark === 'cafe'
          ? apiError(422, 'cafe is unreachable')
          : undefined,
    });
    const { summary, sleeps, err } = await runForLoops(village, 6);

    const targets = village.requests
      .filter((request) => request.path.endsWith('/move'))
      .map((request) => (request.body as { landmark?: string }).landmark);
    assert.equal(targets[0], 'cafe', 'the test expects a breakfast trip first');
    assert.ok(targets.length >= 2 && targets.slice(1).every((target) => target !== 'cafe'), targets.join(', '));
    assert.deepEqual(
      err.map((line) => [line.level, line.phase, line.status, line.intent]),
      [['warn', 'act', 422, 'move:cafe']],
    );
    const refused = summary.memory.find((episode) => episode.status === 'rejected');
    assert.match(refused?.note ?? '', /unreachable/);
    assert.ok(
      sleeps.slice(1).every((ms) => ms === 85),
      `backed off on a 4xx: ${sleeps.join(', ')}`,
    );
  });

  it('refuses a malformed intent from the brain without calling the server', async () => {
    const village = await stub();
    const controller = new AbortController();
    const { log, err } = capturedLog();
    let told: string | undefined;
    const brain: Brain = {
      kind: 'scripted',
      decide: () => [{ kind: 'say', text: 'x'.repeat(501) }],
      reflect: (_perception, outcomes) => {
        told = outcomes[0]?.status;
        controller.abort();
      },
    };

    await runAgent(configFor(village.url), { signal: controller.signal, brain, log });

    assert.equal(told, 'rejected');
    assert.equal(village.requests.filter((request) => request.method === 'POST').length, 0);
    assert.equal(err[0]?.phase, 'act');
  });
});
