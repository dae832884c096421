// The agent API's rate limit through the real loop and the real control plane: a tier that allows
// only a few requests a minute, so the loop meets a real 429 with a real Retry-After within a second.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VillageClient } from '@ai-village/control-plane/contract';
import type { Intent } from '../src/brains/brain.js';
import { LLM_DEFAULTS, TOOL_DEFAULTS } from '../src/config.js';
import type { AgentConfig } from '../src/config.js';
import { startControlPlane } from './control-plane-process.js';
import type { ControlPlane } from './control-plane-process.js';
import { RecordingBrain, capturedLog, runUntil } from './loop-harness.js';

/** Requests a minute the test's only tier allows: the first loop takes three (world, agent, mail). */
const REQUESTS_PER_MINUTE = 6;
const LOOP_MS = 50;

/**
 * The limit counts in windows of a clock minute: a run that straddles one would get a fresh count
 * halfway. Waits (at most a few seconds) until the minute has time enough left.
 */
async function clearOfTheMinute(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
}

describe('rate limit (429 with Retry-After) through the real loop', { timeout: 30_000 }, () => {
  let village: ControlPlane;

  before(async () => {
    village = await startControlPlane({ tickMs: 100 });
    await village.admin.setTierPolicy({
      hysteresis: 0,
      tiers: [
        {
          level: 0,
          name: 'commons',
          minBalance: 0,
          entitlements: {
            requestsPerMinute: REQUESTS_PER_MINUTE,
            llmTokensPerHour: 0,
            concurrentLlmCalls: 1,
            concurrentToolRuns: 1,
            models: [],
            cpus: 0.5,
            memoryMb: 512,
            gpuShare: 0,
            gpuPriority: 0,
          },
        },
      ],
    });
  });
  after(async () => {
    await village?.dispose();
  });

  /**
   * Runs an agent whose brain does `plan` every loop until the loop first waits a second or more
   * (the Retry-After wait, not slept: the run stops there). Returns the Retry-After headers the
   * server sent, every request made, the waits and the log.
   */
  async function runIntoTheLimit(id: string, plan: () => Intent[]) {
    const agent = await village.createAgent({ id, displayName: id, persona: '' });
    const config: AgentConfig = {
      villageUrl: village.url,
      agentId: agent.id,
      agentToken: agent.token,
      loopMs: LOOP_MS,
      seed: agent.id,
      brain: 'scripted',
      llm: LLM_DEFAULTS,
      tools: TOOL_DEFAULTS,
      reflectEveryLoops: 40,
    };
    const requests: string[] = [];
    const retryAfter: number[] = [];
    const client = new VillageClient({
      baseUrl: config.villageUrl,
      token: config.agentToken,
      fetch: async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : input);
        const response = await fetch(input, init);
        requests.push(`${init?.method ?? 'GET'} ${url.pathname} ${response.status}`);
        if (response.status === 429) retryAfter.push(Number(response.headers.get('retry-after')));
        return response;
      },
    });
    await clearOfTheMinute();
    const controller = new AbortController();
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      if (ms >= 1000) controller.abort();
      else await new Promise((resolve) => setTimeout(resolve, ms));
    };
    const { log, out, err } = capturedLog(agent.id);
    const brain = new RecordingBrain(plan);
    await runUntil(config, { client, brain, log, sleep, random: () => 0.5 }, { controller, what: 'a 429' });
    return { requests, retryAfter, sleeps, out, err, brain };
  }

  it('waits as long as Retry-After says after a 429 in perceive, and says so in one line', async () => {
    const { requests, retryAfter, sleeps, err } = await runIntoTheLimit('quiet', () => [{ kind: 'idle' }]);

    // Loops 1 and 2 (five requests), then loop 3's agent (the sixth) and its mail refused.
    assert.deepEqual(requests.slice(-2), ['GET /api/agents/quiet 200', 'GET /api/agents/quiet/mail 429']);
    assert.equal(requests.filter((request) => request.endsWith(' 429')).length, 1, 'asked again after a 429');
    assert.equal(retryAfter.length, 1);
    const [seconds] = retryAfter as [number];
    assert.ok(seconds >= 1 && seconds <= 60, `Retry-After: ${seconds}`);
    // The wait: at least what the server asked, plus up to a period (here half of one).
    assert.equal(sleeps.at(-1), seconds * 1000 + LOOP_MS / 2);
    assert.deepEqual(
      err.map((line) => [line.level, line.phase, line.status, line.retryInMs]),
      [['warn', 'perceive', 429, seconds * 1000 + LOOP_MS / 2]],
    );
    assert.match(
      err[0]!.message ?? '',
      new RegExp(`^rate limited: waiting ${seconds} s as the control plane asks .*over its tier's 6 requests a minute`),
    );
  });

  it('does the same after a 429 on an action, and skips the rest of that loop', async () => {
    const actions: Intent[] = [
      { kind: 'emote', emote: 'wave' },
      { kind: 'say', text: 'Hello!' },
      { kind: 'emote', emote: 'smile' },
      { kind: 'say', text: 'Anyone there?' },
      { kind: 'emote', emote: 'think' },
    ];
    const { requests, retryAfter, sleeps, err, brain } = await runIntoTheLimit('chatty', () => actions);

    // Loop 1: world, agent, mail and three actions (the sixth request); the fourth action is refused.
    assert.equal(requests.length, 7, requests.join('\n'));
    assert.equal(requests.at(-1), 'POST /api/agents/chatty/action 429');
    assert.equal(brain.reflected.length, 1);
    assert.deepEqual(
      brain.reflected[0]!.outcomes.map((outcome) => outcome.status),
      ['done', 'done', 'done', 'failed', 'skipped'],
    );
    const [seconds] = retryAfter as [number];
    assert.equal(sleeps.at(-1), seconds * 1000 + LOOP_MS / 2);
    assert.deepEqual(
      err.map((line) => [line.level, line.phase, line.intent, line.status, line.retryInMs]),
      [['warn', 'act', 'say', 429, seconds * 1000 + LOOP_MS / 2]],
    );
  });
});
