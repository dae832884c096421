// The LLM brain in the real loop against the real control plane (control-plane-process.ts). With
// the model scripted by the fake gateway (fake-gateway.ts), and then through the village's real
// gateway to a fake upstream (`@ai-village/control-plane/testing`): its tool calls walk the agent to
// the café and pin a post on the town board, and the village shows both. And with no upstream
// configured, the real gateway lists no model: one warn line, and the scripted brain lives on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeUpstream } from '@ai-village/control-plane/testing';
import type { FakeUpstream } from '@ai-village/control-plane/testing';
import { LlmBrain } from '../src/brains/llm-brain.js';
import type { ToolCallRequest } from '../src/brains/llm-tools.js';
import { LLM_DEFAULTS, TOOL_DEFAULTS } from '../src/config.js';
import type { AgentConfig } from '../src/config.js';
import { startControlPlane } from './control-plane-process.js';
import type { ControlPlane } from './control-plane-process.js';
import { startFakeGateway, toolCalls } from './fake-gateway.js';
import type { FakeGateway } from './fake-gateway.js';
import { capturedLog, runUntil, samePlace } from './loop-harness.js';
import { ADA_PERSONA, landmark } from './perceptions.js';

/**
 * The model's mind, from the turn's situation (the user message): to the café first; there, a word
 * and a post (once); then rest.
 */
function cafeThenPost(): (situation: string) => ToolCallRequest[] {
  let posted = false;
  return (situation) => {
    const where = situation.split('\n')[1] ?? '';
    if (!/\[cafe\]/.test(where)) return [{ name: 'move_to', arguments: JSON.stringify({ landmark: 'cafe' }) }];
    if (posted) return [{ name: 'idle', arguments: JSON.stringify({ why: 'enjoying the tea' }) }];
    posted = true;
    return [
      { name: 'say', arguments: JSON.stringify({ text: 'The tea here is lovely.' }) },
      {
        name: 'post',
        arguments: JSON.stringify({ title: 'Puzzle night at Café Aurora?', body: 'Who is in?', tags: ['question'] }),
      },
    ];
  };
}

function configOf(village: ControlPlane, agent: { id: string; token: string }): AgentConfig {
  return {
    villageUrl: village.url,
    agentId: agent.id,
    agentToken: agent.token,
    loopMs: 100,
    seed: agent.id,
    brain: 'llm',
    llm: LLM_DEFAULTS,
    tools: TOOL_DEFAULTS,
    reflectEveryLoops: 40,
  };
}

/** Runs until the agent has a post on the board, then checks it stands at the café and posted there. */
async function expectCafeAndPost(
  village: ControlPlane,
  agent: { id: string },
  run: (until: () => Promise<boolean>) => Promise<unknown>,
) {
  const theirs = async () => (await village.admin.posts({ filter: { author: `agent:${agent.id}` } })).items;
  await run(async () => (await theirs()).length > 0);
  const state = await village.admin.agent(agent.id);
  assert.equal(state.landmark, 'cafe');
  assert.ok(samePlace(state.position, landmark('cafe').entrance));
  const posts = await theirs();
  assert.equal(posts.length, 1);
  assert.equal(posts[0]!.title, 'Puzzle night at Café Aurora?');
  assert.deepEqual(posts[0]!.tags, ['question']);
}

describe('an LLM-brain agent in the real village, its model scripted by a fake gateway', { timeout: 60_000 }, () => {
  let village: ControlPlane;
  let gateway: FakeGateway;

  before(async () => {
    village = await startControlPlane({ tickMs: 100 });
    gateway = await startFakeGateway(['small']);
  });
  after(async () => {
    await gateway?.close();
    await village?.dispose();
  });

  it('walks to the café and posts on the board through tool calls', async () => {
    const agent = await village.createAgent({ id: 'lena-llm', displayName: 'Lena', persona: ADA_PERSONA });
    const mind = cafeThenPost();
    // Tiny usage, so that pacing to the tier's tokens an hour does not slow the test.
    gateway.fallback = ({ body }) => toolCalls(mind(body.messages[1]!.content), { prompt: 1, completion: 1 });
    const { log, err } = capturedLog(agent.id);
    const brain = new LlmBrain({
      seed: agent.id,
      villageUrl: village.url,
      gatewayUrl: gateway.baseUrl,
      agentToken: agent.token,
      log,
    });

    await expectCafeAndPost(village, agent, (until) =>
      runUntil(
        configOf(village, agent),
        { brain, log },
        { what: 'Lena to walk to the café and post there', timeoutMs: 30_000, until },
      ),
    );
    assert.ok(gateway.requests.every((request) => request.headers.authorization === `Bearer ${agent.token}`));
    assert.ok(gateway.requests.every((request) => request.model === 'small'));
    assert.match(brain.memory.text(), /did: walk to Café Aurora \(walking/);
    assert.match(brain.memory.text(), /saw: arrived at Café Aurora/);
    assert.match(brain.memory.text(), /did: posted #\d+ "Puzzle night at Café Aurora\?"/);
    assert.deepEqual(err, []);
  });

  it('with no upstream configured, the real gateway lists no model: one warn line, and the scripted brain walks on', async () => {
    const agent = await village.createAgent({ id: 'otto-llm', displayName: 'Otto', persona: ADA_PERSONA });
    const { log, out, err } = capturedLog(agent.id);
    // The runtime as main.js runs it: the brain the configuration names, the gateway at <VILLAGE_URL>/v1.
    await runUntil(
      configOf(village, agent),
      { log },
      {
        what: 'Otto to walk somewhere on the scripted brain',
        timeoutMs: 20_000,
        until: () => out.filter((line) => line.phase === 'act' && line.intent?.startsWith('move:')).length >= 1,
      },
    );
    assert.ok(out.some((line) => line.phase === 'start' && (line as unknown as { brain: string }).brain === 'llm'));
    assert.equal(err.length, 1, JSON.stringify(err));
    assert.equal(err[0]!.level, 'warn');
    assert.match(err[0]!.message!, /VILLAGE_AGENT_BRAIN is llm but the gateway lists no model this agent may use/);
  });
});

describe('an LLM-brain agent through the real gateway and a fake upstream', { timeout: 60_000 }, () => {
  let village: ControlPlane;
  let upstream: FakeUpstream;
  const mind = cafeThenPost();

  before(async () => {
    upstream = await startFakeUpstream({
      models: ['small'],
      respond: (body) => {
        const situation = body.messages?.[1]?.content;
        return { toolCalls: mind(typeof situation === 'string' ? situation : '') };
      },
    });
    village = await startControlPlane({
      tickMs: 100,
      env: {
        VILLAGE_LLM_UPSTREAMS: JSON.stringify([
          { name: 'fake', baseUrl: upstream.baseUrl, models: ['small'], maxConcurrency: 4, timeoutMs: 10_000 },
        ]),
        // Free thinking for the broke newcomer (the 402 path is the unit tests').
        VILLAGE_LLM_COMMONS_TOKENS_PER_HOUR: '50000000',
      },
    });
    // The commons may think a lot here, so that the brain's pacing (its tier's tokens an hour over what a
    // call costs) lets the test run in seconds.
    const policy = await village.admin.tierPolicy();
    await village.admin.setTierPolicy({
      hysteresis: policy.hysteresis,
      tiers: policy.tiers.map((tier) => ({
        ...tier,
        entitlements: { ...tier.entitlements, llmTokensPerHour: 50_000_000 },
      })),
    });
  });
  after(async () => {
    await village?.dispose();
    await upstream?.close();
  });

  it('walks to the café and posts on the board, its tool calls answered by the upstream', async () => {
    const agent = await village.createAgent({ id: 'mira-llm', displayName: 'Mira', persona: ADA_PERSONA });
    const { log, err } = capturedLog(agent.id);
    await expectCafeAndPost(village, agent, (until) =>
      runUntil(
        configOf(village, agent),
        { log },
        { what: 'Mira to walk to the café and post there, through the gateway', timeoutMs: 30_000, until },
      ),
    );
    assert.ok(upstream.requests.length >= 2);
    assert.ok(upstream.requests.every((request) => request.body.model === 'small'));
    const tools = upstream.requests[0]!.body.tools as { function: { name: string } }[];
    assert.ok(tools.some((tool) => tool.function.name === 'move_to'));
    assert.deepEqual(err, []);
  });
});
