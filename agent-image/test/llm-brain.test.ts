// The LLM brain against a fake gateway on loopback (fake-gateway.ts), through the real `openai`
// client: tool calls become intents (moves, board writes), bad ones are refused into memory, 402
// steps down to a cheaper model, 429 and pauses wait, and a gateway that lists nothing, cannot be
// reached or has no upstream hands the loop to the scripted brain, each change said once in the log.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentEconomySchema } from '@ai-village/control-plane/contract';
import type { AgentDetails, MailItem } from '@ai-village/control-plane/contract';
import type { Intent, IntentOutcome, Perception } from '../src/brains/brain.js';
import { createBrain } from '../src/brains/create-brain.js';
import { LlmBrain, PAUSE_MS, UNAFFORDABLE_RETRY_MS } from '../src/brains/llm-brain.js';
import type { LlmBrainOptions } from '../src/brains/llm-brain.js';
import { LlmMemory } from '../src/brains/llm-memory.js';
import { intentFromToolCall, TOOL_NAMES } from '../src/brains/llm-tools.js';
import { ScriptedBrain } from '../src/brains/scripted-brain.js';
import { LLM_DEFAULTS } from '../src/config.js';
import { capturedLog } from './loop-harness.js';
import { deadGatewayUrl, gatewayError, startFakeGateway, toolCalls, words } from './fake-gateway.js';
import type { FakeGateway } from './fake-gateway.js';
import {
  ADA_PERSONA,
  AGENT_ADA,
  HUMAN,
  LANDMARKS,
  agentAt,
  economyOf,
  mailItem,
  neighbours,
  post,
  reply,
  worldOf,
} from './perceptions.js';

const TIER_MODELS = ['small', 'medium', 'large'];

/** Ada with money, at the town square; her tier allows small, medium and large (cheapest first). */
function ada({
  available = 50_000,
  models = TIER_MODELS,
  tokensPerHour = 1_000_000,
  at = 'town-square',
}: { available?: number; models?: string[]; tokensPerHour?: number; at?: string } = {}): AgentDetails {
  const economy = economyOf('ada', { balance: available, level: 2 });
  return agentAt(at, {
    id: 'ada',
    displayName: 'Ada',
    persona: ADA_PERSONA,
    economy: AgentEconomySchema.parse({
      ...economy,
      entitlements: { ...economy.entitlements, models, llmTokensPerHour: tokensPerHour },
    }),
  });
}

function perception(loop: number, self: AgentDetails = ada(), mail: MailItem[] = []): Perception {
  return { loop, self, world: worldOf(neighbours(), loop), tick: loop, memory: [], mail };
}

/** Done, as the loop reports a success (the results themselves do not matter to the brain's memory). */
const done = (intents: readonly Intent[]): IntentOutcome[] => intents.map((intent) => ({ intent, status: 'done' }));

describe('LLM brain', () => {
  let gateway: FakeGateway;
  let clock: number;
  let captured: ReturnType<typeof capturedLog>;

  before(async () => {
    gateway = await startFakeGateway();
  });
  after(async () => {
    await gateway.close();
  });
  beforeEach(() => {
    gateway.models = [...TIER_MODELS];
    gateway.listings = 0;
    gateway.requests.length = 0;
    gateway.fallback = () => toolCalls([{ name: 'idle', arguments: { why: 'resting' } }]);
    clock = 1_000_000;
    captured = capturedLog('ada');
  });

  function brain(options: Partial<LlmBrainOptions> = {}): LlmBrain {
    return new LlmBrain({
      seed: 'ada',
      villageUrl: 'http://127.0.0.1:1',
      gatewayUrl: gateway.baseUrl,
      agentToken: 'ada-token',
      log: captured.log,
      now: () => clock,
      ...options,
    });
  }

  const warnings = () => captured.err.filter((line) => line.level === 'warn');
  const errors = () => captured.err.filter((line) => line.level === 'error');

  it('turns a move_to tool call into a move, asking the best model its tier allows with its own token', async () => {
    gateway.queue(toolCalls([{ name: 'move_to', arguments: { landmark: 'cafe' } }]));
    const llm = brain();
    const intents = await llm.decide(perception(1));

    assert.deepEqual(intents, [{ kind: 'move', to: { landmark: 'cafe' } }]);
    assert.equal(gateway.listings, 1);
    assert.equal(gateway.requests.length, 1);
    const [request] = gateway.requests;
    assert.equal(request!.model, 'large');
    assert.equal(request!.headers.authorization, 'Bearer ada-token');
    assert.equal(request!.body.stream, false);
    assert.equal(request!.body.max_tokens, LLM_DEFAULTS.maxTokens);
    // The village's tools, then the operator tools of its tier (the commons: file and http).
    assert.deepEqual(
      request!.body.tools!.map((tool) => tool.function.name),
      [...TOOL_NAMES, 'file', 'http'],
    );
    const [system, user] = request!.body.messages;
    assert.equal(system!.role, 'system');
    assert.match(system!.content, /You are Ada/);
    assert.match(system!.content, /loves puzzles and strong tea/);
    assert.match(system!.content, /^cafe: Café Aurora \(cafe\)$/m);
    assert.match(user!.content, /You are at .*\[town-square\]/);
    assert.match(user!.content, /Here with you: Cleo\./);
    assert.equal(errors().length, 0);
    assert.equal(warnings().length, 0);
    // One line for the thought: which model, which tools, what it cost.
    const thought = captured.out.find((line) => line.phase === 'decide') as unknown as Record<string, unknown>;
    assert.equal(thought.model, 'large');
    assert.deepEqual(thought.tools, ['move_to']);
  });

  it('takes a landmark by its name, and a tile or one step', async () => {
    const { landmarks } = worldOf([]);
    assert.deepEqual(intentFromToolCall({ name: 'move_to', arguments: '{"landmark":"Café Aurora"}' }, landmarks), {
      ok: true,
      intent: { kind: 'move', to: { landmark: 'cafe' } },
    });
    assert.deepEqual(intentFromToolCall({ name: 'move_to', arguments: '{"x":3,"y":4,"landmark":null}' }, landmarks), {
      ok: true,
      intent: { kind: 'move', to: { x: 3, y: 4 } },
    });
    assert.deepEqual(intentFromToolCall({ name: 'step', arguments: '{"dx":0,"dy":-1}' }, landmarks), {
      ok: true,
      intent: { kind: 'move', to: { dx: 0, dy: -1 } },
    });
  });

  it('turns post, reply and resolve tool calls into board intents checked by the contract', async () => {
    const question = post({ id: 12, author: AGENT_ADA, title: 'Best tea in the village?' });
    const answer = reply({ id: 40, postId: 12, author: HUMAN, body: 'The café has a lovely oolong.' });
    const mail = [mailItem(['reply'], question, answer)];
    gateway.queue(
      toolCalls([
        { name: 'reply', arguments: { postId: 12, body: 'Thank you, Hanna! I will try it.' } },
        { name: 'resolve', arguments: { postId: '#12' } },
        {
          name: 'post',
          arguments: { title: 'Puzzle night?', body: 'Anyone up for puzzles?', tags: ['Question', 'fun'] },
        },
      ]),
    );
    const llm = brain();
    const intents = await llm.decide(perception(1, ada(), mail));

    assert.deepEqual(intents, [
      { kind: 'reply', postId: 12, body: 'Thank you, Hanna! I will try it.' },
      { kind: 'resolve', postId: 12 },
      { kind: 'post', title: 'Puzzle night?', body: 'Anyone up for puzzles?', tags: ['question', 'fun'] },
    ]);
    const user = gateway.requests[0]!.body.messages[1]!.content;
    assert.match(user, /New mail/);
    assert.match(
      user,
      /your post #12 "Best tea in the village\?": Hanna \(human\) replied: "The café has a lovely oolong\."/,
    );
    assert.match(llm.memory.text(), /mail: your post #12/);
  });

  it('refuses malformed tool calls into its memory, without a crash, and shows the model next turn', async () => {
    gateway.queue(
      toolCalls([
        { name: 'move_to', arguments: '{"landmark": "caf' },
        { name: 'fly', arguments: {} },
        { name: 'step', arguments: { dx: 2, dy: 0 } },
        { name: 'say', arguments: { text: '   ' } },
        { name: 'move_to', arguments: { landmark: 'atlantis' } },
        { name: 'reply', arguments: { postId: -3, body: 'hi' } },
        { name: 'post', arguments: { title: 'x'.repeat(201), body: '' } },
        { name: 'emote', arguments: { emote: 'wave' } },
      ]),
    );
    const llm = brain();
    const intents = await llm.decide(perception(1));

    assert.deepEqual(intents, [{ kind: 'emote', emote: 'wave' }]);
    const refused = llm.memory.render().filter((line) => line.startsWith('refused: '));
    assert.equal(refused.length, 7);
    assert.match(refused[0]!, /move_to: the arguments are not JSON/);
    assert.match(refused[1]!, /there is no tool "fly"/);
    assert.match(refused[2]!, /step: /);
    assert.match(refused[3]!, /say: /);
    assert.match(refused[4]!, /no landmark "atlantis" \(there are: /);
    assert.match(refused[5]!, /reply: postId must be above 0/);
    assert.match(refused[6]!, /post: title at most 200 characters/);
    assert.equal(warnings().length, 7);
    assert.ok(warnings().every((line) => /a tool call of the model was refused/.test(line.message ?? '')));

    // All refused: it idles; and the model reads the refusals in its memory on the next turn.
    gateway.queue(toolCalls([{ name: 'fly', arguments: {} }]));
    clock += 10_000;
    assert.deepEqual(await llm.decide(perception(2)), [{ kind: 'idle', why: 'its tool calls were refused' }]);
    assert.match(gateway.requests[1]!.body.messages[1]!.content, /refused: move_to: the arguments are not JSON/);

    // Words instead of a tool: noted, and an idle.
    gateway.queue(words('I think I will go to the café.'));
    clock += 10_000;
    assert.deepEqual(await llm.decide(perception(3)), [{ kind: 'idle', why: 'no tool call' }]);
    assert.match(llm.memory.text(), /refused: you answered in words/);
  });

  it('takes at most three actions a turn', async () => {
    gateway.queue(toolCalls(['one', 'two', 'three', 'four'].map((text) => ({ name: 'say', arguments: { text } }))));
    const intents = await brain().decide(perception(1));
    assert.deepEqual(
      intents.map((intent) => (intent.kind === 'say' ? intent.text : intent.kind)),
      ['one', 'two', 'three'],
    );
  });

  it('steps down to a cheaper model on 402, and back up once more money is available', async () => {
    gateway.queue(
      gatewayError(402, 'insufficient_quota', 'this call may cost up to 2 aiDollars; agent ada has 0.5 available'),
      toolCalls([{ name: 'move_to', arguments: { landmark: 'cafe' } }]),
    );
    const llm = brain();
    assert.deepEqual(await llm.decide(perception(1, ada({ available: 500 }))), [
      { kind: 'move', to: { landmark: 'cafe' } },
    ]);
    assert.deepEqual(
      gateway.requests.map((request) => request.model),
      ['large', 'medium'],
    );

    // The next turn goes straight to the model it can afford: no request wasted on 402s.
    clock += 10_000;
    await llm.decide(perception(2, ada({ available: 500 })));
    assert.equal(gateway.requests.at(-1)!.model, 'medium');
    assert.equal(gateway.requests.length, 3);

    // A reward: more available, so the best model is tried again at once.
    clock += 10_000;
    await llm.decide(perception(3, ada({ available: 90_000 })));
    assert.equal(gateway.requests.at(-1)!.model, 'large');
    assert.equal(warnings().length, 0);
  });

  it('idles when it can afford no model, says so once in its log and memory, and does not spin', async () => {
    gateway.queue(
      gatewayError(402, 'insufficient_quota', 'too poor for large'),
      gatewayError(402, 'insufficient_quota', 'too poor for medium'),
      gatewayError(402, 'insufficient_quota', 'too poor for small'),
    );
    const llm = brain();
    const broke = ada({ available: 0 });
    assert.deepEqual(await llm.decide(perception(1, broke)), [{ kind: 'idle', why: 'no model I can use now' }]);
    assert.equal(gateway.requests.length, 3);
    for (let loop = 2; loop <= 6; loop++) {
      clock += 2_000;
      assert.deepEqual(await llm.decide(perception(loop, broke)), [{ kind: 'idle', why: 'no model I can use now' }]);
    }
    assert.equal(gateway.requests.length, 3, 'no request while every model is cooling');
    assert.equal(warnings().length, 1);
    assert.match(warnings()[0]!.message!, /no model can be used now \(large: unaffordable, medium: unaffordable/);
    assert.equal(
      llm.memory.render().filter((line) => /could not think now \(large: unaffordable/.test(line)).length,
      1,
    );

    // After the cooling, it asks again (and thinks, here), saying so once.
    clock += UNAFFORDABLE_RETRY_MS;
    gateway.queue(toolCalls([{ name: 'say', arguments: { text: 'Back to thinking.' } }]));
    assert.deepEqual(await llm.decide(perception(7, broke)), [{ kind: 'say', text: 'Back to thinking.' }]);
    assert.equal(gateway.requests.at(-1)!.model, 'large');
    assert.ok(captured.out.some((line) => /thinking with large again/.test(line.message ?? '')));
  });

  it("waits out the gateway's 429 for as long as Retry-After says, without trying other models", async () => {
    gateway.queue(
      gatewayError(429, 'tokens_per_hour_exceeded', 'try again in 7 s', { 'retry-after': '7' }),
      toolCalls([{ name: 'emote', arguments: { emote: 'smile' } }]),
    );
    const llm = brain();
    assert.deepEqual(await llm.decide(perception(1)), [{ kind: 'idle', why: 'no model I can use now' }]);
    assert.equal(gateway.requests.length, 1, 'the limit is the agent’s: a cheaper model would be refused too');
    clock += 6_000;
    await llm.decide(perception(2));
    assert.equal(gateway.requests.length, 1);
    clock += 1_000;
    assert.deepEqual(await llm.decide(perception(3)), [{ kind: 'emote', emote: 'smile' }]);
    assert.equal(gateway.requests.at(-1)!.model, 'large');
    assert.equal(warnings().length, 1);
    assert.match(warnings()[0]!.message!, /rate-limited/);

    // An upstream's own 429 (not one of the gateway's limits) sends it to the next model at once.
    gateway.queue(
      gatewayError(429, null, 'upstream busy', { 'retry-after': '20' }),
      toolCalls([{ name: 'emote', arguments: { emote: 'think' } }]),
    );
    clock += 10_000;
    assert.deepEqual(await llm.decide(perception(4)), [{ kind: 'emote', emote: 'think' }]);
    assert.deepEqual(
      gateway.requests.slice(-2).map((request) => request.model),
      ['large', 'medium'],
    );
  });

  it('paces its thinking to the tier’s LLM tokens an hour, and does not think while walking', async () => {
    // 50 tokens a call and 18,000 tokens an hour: one thought every 10 s at most.
    const self = ada({ tokensPerHour: 18_000 });
    const llm = brain();
    await llm.decide(perception(1, self));
    assert.equal(gateway.requests.length, 1);
    clock += 5_000;
    assert.deepEqual(await llm.decide(perception(2, self)), [{ kind: 'idle', why: 'thinking it over' }]);
    assert.equal(gateway.requests.length, 1);
    clock += 5_000;
    await llm.decide(perception(3, self));
    assert.equal(gateway.requests.length, 2);

    const walking: AgentDetails = { ...self, walking: { destination: { x: 1, y: 1 }, landmark: 'cafe', remaining: 4 } };
    clock += 60_000;
    assert.deepEqual(await llm.decide(perception(4, walking)), [{ kind: 'idle', why: 'walking to cafe' }]);
    assert.equal(gateway.requests.length, 2);
    // Mail is worth a thought, walking or not.
    const mail = [mailItem(['mention'], post({ id: 30, author: HUMAN, title: 'Hi @ada', body: 'Hello @ada!' }))];
    await llm.decide(perception(5, walking, mail));
    assert.equal(gateway.requests.length, 3);
  });

  it('hands the loop to the scripted brain with one warn line while the gateway lists no model, and asks again later', async () => {
    gateway.models = [];
    const llm = brain({ modelRelistLoops: 5 });
    const twin = new ScriptedBrain({ seed: 'ada' });
    for (let loop = 1; loop <= 8; loop++) {
      clock += 2_000;
      const seen = perception(loop);
      const intents = await llm.decide(seen);
      assert.deepEqual(intents, twin.decide(seen), `loop ${loop}: what the scripted brain would do`);
      await llm.reflect(seen, done(intents));
      twin.reflect(seen, done(intents));
    }
    assert.equal(gateway.requests.length, 0);
    assert.equal(gateway.listings, 2, 'listed at loop 1 and again 5 loops later');
    assert.equal(warnings().length, 1);
    assert.match(
      warnings()[0]!.message!,
      /VILLAGE_AGENT_BRAIN is llm but the gateway lists no model this agent may use \(tier artisan\): the scripted brain decides/,
    );

    // A model appears: at the next listing the LLM thinks again, and says so.
    gateway.models = ['small'];
    gateway.queue(toolCalls([{ name: 'move_to', arguments: { landmark: 'library' } }]));
    let intents: Intent[] = [];
    for (let loop = 9; loop <= 11 && gateway.requests.length === 0; loop++)
      intents = await llm.decide(perception(loop));
    assert.deepEqual(intents, [{ kind: 'move', to: { landmark: 'library' } }]);
    assert.equal(gateway.requests[0]!.model, 'small');
    assert.equal(warnings().length, 1);
    assert.ok(captured.out.some((line) => /thinking with small again/.test(line.message ?? '')));
  });

  it('says when none of VILLAGE_AGENT_MODELS is allowed, and uses them in its order otherwise', async () => {
    const held = brain({ models: ['gpt-9'] });
    await held.decide(perception(1));
    assert.match(
      warnings()[0]!.message!,
      /none of VILLAGE_AGENT_MODELS \(gpt-9\) is among the models the gateway lists/,
    );

    gateway.queue(gatewayError(402, 'insufficient_quota', 'no'));
    const cheap = brain({ models: ['medium', 'small'] });
    await cheap.decide(perception(1));
    assert.deepEqual(
      gateway.requests.map((request) => request.model),
      ['medium', 'small'],
    );
  });

  it('falls back to the scripted brain while the gateway is unreachable, with one error line, and comes back', async () => {
    const deadUrl = await deadGatewayUrl();
    const llm = brain({ gatewayUrl: deadUrl });
    const twin = new ScriptedBrain({ seed: 'ada' });
    for (let loop = 1; loop <= 6; loop++) {
      clock += 20_000; // past each back-off, so that it tries (and fails) again
      const seen = perception(loop);
      const intents = await llm.decide(seen);
      assert.deepEqual(intents, twin.decide(seen));
      await llm.reflect(seen, done(intents));
      twin.reflect(seen, done(intents));
    }
    assert.equal(errors().length, 1);
    assert.match(
      errors()[0]!.message!,
      /the LLM gateway at http:\/\/127\.0\.0\.1:\d+\/v1 is unreachable .*ECONNREFUSED/,
    );
    assert.match(llm.memory.text(), /could not think \(the gateway is down\); acting on habit/);

    // The gateway comes up where it was: after the back-off the brain lists, thinks, and says so.
    const revived = await startFakeGateway(['small'], Number(new URL(deadUrl).port));
    try {
      revived.queue(toolCalls([{ name: 'say', arguments: { text: 'I can think again.' } }]));
      clock += 60_000;
      assert.deepEqual(await llm.decide(perception(7)), [{ kind: 'say', text: 'I can think again.' }]);
      assert.equal(revived.listings, 1);
      assert.equal(errors().length, 1);
      assert.ok(captured.out.some((line) => /thinking with small again/.test(line.message ?? '')));
    } finally {
      await revived.close();
    }
  });

  it('falls back to the scripted brain on 503 no_upstream, logging the change once, and recovers', async () => {
    gateway.fallback = () => gatewayError(503, 'no_upstream', 'no upstream answered for this model');
    const llm = brain();
    for (let loop = 1; loop <= 4; loop++) {
      clock += 2_000;
      const intents = await llm.decide(perception(loop));
      assert.ok(intents.length > 0);
      assert.ok(!intents.some((intent) => intent.kind === 'idle' && intent.why === 'no model I can use now'));
    }
    // Every model tried once, then each left alone for its cooling: 3 requests, not 12.
    assert.equal(gateway.requests.length, 3);
    assert.equal(errors().length, 1);
    assert.match(errors()[0]!.message!, /no upstream answers for the models this agent may use/);

    gateway.fallback = () => toolCalls([{ name: 'emote', arguments: { emote: 'cheer' } }]);
    clock += 60_000;
    assert.deepEqual(await llm.decide(perception(5)), [{ kind: 'emote', emote: 'cheer' }]);
    assert.equal(errors().length, 1);
    assert.ok(captured.out.some((line) => /thinking with large again/.test(line.message ?? '')));
  });

  it('idles a long while when the loop breaker pauses it, logging it once', async () => {
    gateway.fallback = () =>
      gatewayError(403, 'agent_paused', "agent ada's LLM calls are paused by the loop breaker (spending 9/min)");
    const llm = brain();
    for (let loop = 1; loop <= 5; loop++) {
      clock += 60_000;
      assert.deepEqual(await llm.decide(perception(loop)), [{ kind: 'idle', why: 'paused by the loop breaker' }]);
    }
    assert.equal(gateway.requests.length, 1, 'no request while paused');
    clock += PAUSE_MS;
    await llm.decide(perception(6));
    assert.equal(gateway.requests.length, 2, 'asks again after the pause');
    assert.equal(warnings().length, 1);
    assert.match(warnings()[0]!.message!, /loop breaker paused this agent/);
  });

  it('sees a pause in its economy without asking the gateway, and a moderator’s resume at once', async () => {
    const paused: AgentDetails = {
      ...ada(),
      economy: { ...ada().economy, computePaused: { at: '2026-11-01T12:00:00.000Z', reason: 'spent 6 in 60 s' } },
    };
    const llm = brain();
    for (let loop = 1; loop <= 3; loop++) {
      clock += 2_000;
      assert.deepEqual(await llm.decide(perception(loop, paused)), [
        { kind: 'idle', why: 'paused by the loop breaker' },
      ]);
    }
    assert.equal(gateway.requests.length + gateway.listings, 0);
    assert.equal(warnings().length, 1);
    assert.match(warnings()[0]!.message!, /loop breaker paused this agent \(paused: spent 6 in 60 s\)/);
    clock += 2_000;
    await llm.decide(perception(4));
    assert.equal(gateway.requests.length, 1, 'resumed: it thinks at once');
  });

  it('abandons a call in flight when the agent is told to stop, quietly', async () => {
    const controller = new AbortController();
    gateway.queue({ ...toolCalls([{ name: 'say', arguments: { text: 'too late' } }]), delayMs: 10_000 });
    const llm = brain({ signal: controller.signal });
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    assert.deepEqual(await llm.decide(perception(1)), [{ kind: 'idle', why: 'stopping' }]);
    assert.ok(Date.now() - started < 5_000);
    assert.deepEqual(captured.err, []);
  });

  it('drops a model the gateway refuses for the tier (403) and lists the models again', async () => {
    gateway.queue(
      gatewayError(
        403,
        'model_not_allowed',
        'the model "large" is not allowed in the citizen tier; allowed: small, medium',
      ),
      toolCalls([{ name: 'emote', arguments: { emote: 'shrug' } }]),
    );
    const llm = brain();
    assert.deepEqual(await llm.decide(perception(1)), [{ kind: 'emote', emote: 'shrug' }]);
    assert.deepEqual(
      gateway.requests.map((request) => request.model),
      ['large', 'medium'],
    );
    gateway.models = ['small', 'medium'];
    clock += 10_000;
    await llm.decide(perception(2));
    assert.equal(gateway.listings, 2);
    assert.equal(gateway.requests.at(-1)!.model, 'medium');
  });

  it('uses the operator tools its tier grants, and reads their results in its next turn', async () => {
    const llm = brain();
    const self = ada();
    self.economy.entitlements.tools = ['http', 'shell'];
    gateway.queue(
      toolCalls([
        { name: 'http', arguments: { url: 'https://example.org/news', method: 'GET' } },
        { name: 'shell', arguments: { command: 'ls' } },
      ]),
    );
    const intents = await llm.decide(perception(1, self));
    assert.deepEqual(intents, [
      { kind: 'tool', call: { tool: 'http', input: { url: 'https://example.org/news', method: 'GET' } } },
      { kind: 'tool', call: { tool: 'shell', input: { command: 'ls' } } },
    ]);
    const offered = gateway.requests[0]!.body.tools!.map((tool) => tool.function.name);
    assert.deepEqual(offered.slice(-2), ['shell', 'http'], 'the operator tools of the tier, after the village ones');
    assert.match(gateway.requests[0]!.body.messages[0]!.content, /your tier lets you use: http, shell/);
    const run = (ok: boolean, output: string, error?: string) => ({
      ok,
      output,
      ...(error ? { error } : {}),
      callId: 'c',
      tool: 'http',
      action: 'GET',
      durationMs: 5,
    });
    await llm.reflect(perception(1, self), [
      { intent: intents[0]!, status: 'done', tool: run(true, 'HTTP 200 OK\n\nThe mill reopened.') },
      {
        intent: intents[1]!,
        status: 'rejected',
        message: 'the shell tool is not in tier commons',
        tool: run(false, '', 'the shell tool is not in tier commons'),
      },
    ]);
    clock += 60_000;
    await llm.decide(perception(2, self));
    const turn = gateway.requests[1]!.body.messages[1]!.content;
    assert.match(
      turn,
      /Results of your last tool calls:\n- http GET https:\/\/example\.org\/news: ok\nHTTP 200 OK\n\nThe mill reopened\./,
    );
    assert.match(turn, /- shell ls: failed: the shell tool is not in tier commons/);
    assert.match(turn, /refused: shell ls: the shell tool is not in tier commons/);
    // Read once: the turn after does not show them again.
    clock += 60_000;
    await llm.decide(perception(3, self));
    assert.doesNotMatch(gateway.requests[2]!.body.messages[1]!.content, /Results of your last tool calls/);
  });

  it('puts the notes a previous runtime left back into its memory', () => {
    const llm = brain();
    llm.recall({
      notes: ['Loops 1-40: went to cafe.', 'Loops 41-80: said 3 things.', 'Loops 81-120: idle.'],
      digest: '',
      episodes: [],
    });
    assert.deepEqual(llm.memory.render(), [
      'note: before: Loops 41-80: said 3 things.',
      'note: before: Loops 81-120: idle.',
    ]);
  });

  it('keeps its memory within its character budget, whatever it lives through', async () => {
    const llm = brain({ memoryChars: 600 });
    gateway.fallback = ({ body }) =>
      toolCalls([
        {
          name: 'say',
          arguments: { text: `I said this at ${body.messages[1]!.content.length} chars. ${'la '.repeat(60)}` },
        },
      ]);
    let longest = 0;
    for (let loop = 1; loop <= 60; loop++) {
      clock += 10_000;
      const item = mailItem(
        ['mention'],
        post({ id: 100 + loop, author: HUMAN, title: `Question ${loop}`, body: `@ada ${'why '.repeat(200)}` }),
      );
      const seen = perception(loop, ada({ at: LANDMARKS[loop % LANDMARKS.length]!.id }), [item]);
      const intents = await llm.decide(seen);
      await llm.reflect(seen, [
        ...done(intents),
        {
          intent: { kind: 'move', to: { landmark: 'atlantis' } },
          status: 'rejected',
          message: 'no such landmark '.repeat(20),
        },
      ]);
      assert.ok(llm.memory.text().length <= 600, `loop ${loop}: ${llm.memory.text().length} characters`);
      longest = Math.max(longest, gateway.requests.at(-1)!.body.messages[1]!.content.length);
    }
    const lines = llm.memory.render();
    assert.match(lines[0]!, /^earlier: \d+ older notes \(.*mail.*\)/);
    assert.match(lines.at(-1)!, /^refused: walk to atlantis/);
    // The whole turn prompt stays small too: the memory, five mail items at most, the situation.
    assert.ok(longest < 4_000, `the longest turn prompt was ${longest} characters`);
  });
});

describe('LLM memory', () => {
  it('never exceeds its budget, keeps the newest line, folds repeats and summarises the rest', () => {
    const memory = new LlmMemory(1000);
    memory.add('saw', 'arrived at Café Aurora', 'Café Aurora');
    for (let i = 0; i < 3; i++) memory.add('did', 'emote wave');
    assert.deepEqual(memory.render(), ['saw: arrived at Café Aurora', 'did: emote wave (×3)']);
    for (let i = 0; i < 1000; i++) {
      memory.add(i % 3 === 0 ? 'said' : 'mail', `line ${i} ${'x'.repeat((i * 37) % 400)}`);
      assert.ok(memory.text().length <= 1000, `after ${i + 1} lines: ${memory.text().length}`);
    }
    const lines = memory.render();
    assert.match(lines[0]!, /^earlier: \d+ older notes \(1 saw, \d+ mail, 3 did, \d+ said\); places: Café Aurora$/);
    assert.match(lines.at(-1)!, /^said: line 999 x+…$/);
    assert.ok(lines.every((line) => line.length <= memory.lineChars + 2));
  });

  it('holds a summary and one line in the smallest budget', () => {
    const memory = new LlmMemory(10);
    assert.equal(memory.budgetChars, 400);
    for (let i = 0; i < 50; i++) memory.add('note', 'y'.repeat(500));
    assert.ok(memory.text().length <= 400);
    assert.ok(memory.size >= 1);
  });
});

describe('choosing the brain', () => {
  it('makes the scripted brain by default and the LLM brain for VILLAGE_AGENT_BRAIN=llm', () => {
    const { log } = capturedLog('ada');
    const settings = { seed: 'ada', villageUrl: 'http://127.0.0.1:8080', agentToken: 't', llm: LLM_DEFAULTS };
    assert.equal(createBrain({ ...settings, brain: 'scripted' }, { log }).kind, 'scripted');
    assert.equal(createBrain({ ...settings, brain: 'llm' }, { log }).kind, 'llm');
  });
});
