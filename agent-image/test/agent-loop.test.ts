// The loop against the real control plane: `control-plane/dist/src/main.js` as a child process with
// its own database (control-plane-process.ts). The runtime talks to it through the real client and
// fetch; the test sees what happened through the village itself: `GET /api/agents/:id` and a
// socket.io viewer of the world's events. The only stand-in is the Brain, the runtime's own seam.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent } from '@ai-village/control-plane/contract';
import { AgentAuthError } from '../src/agent-loop.js';
import type { Intent } from '../src/brains/brain.js';
import { LLM_DEFAULTS, TOOL_DEFAULTS } from '../src/config.js';
import type { AgentConfig } from '../src/config.js';
import { eventually, startControlPlane } from './control-plane-process.js';
import type { ControlPlane } from './control-plane-process.js';
import { RecordingBrain, capturedLog, recordedSleeps, runUntil, samePlace, tappedClient } from './loop-harness.js';
import { ADA_PERSONA, LANDMARKS, landmark } from './perceptions.js';
import { WorldViewer } from './world-viewer.js';

type TestAgent = Agent & { token: string };

describe('agent loop against the real control plane', { timeout: 30_000 }, () => {
  let village: ControlPlane;
  let viewer: WorldViewer;
  let created = 0;

  before(async () => {
    village = await startControlPlane({ tickMs: 100 });
    viewer = await new WorldViewer(village.url).ready();
  });
  after(async () => {
    viewer?.close();
    await village?.dispose();
  });

  /** A new agent in the village (at the town square), and the token the runtime needs. */
  function newAgent(name: string, persona = ''): Promise<TestAgent> {
    created++;
    return village.createAgent({ id: `${name.toLowerCase()}-${created}`, displayName: name, persona });
  }

  function configFor(agent: TestAgent, overrides: Partial<AgentConfig> = {}): AgentConfig {
    return {
      villageUrl: village.url,
      agentId: agent.id,
      agentToken: agent.token,
      loopMs: 50,
      seed: agent.id,
      brain: 'scripted',
      llm: LLM_DEFAULTS,
      tools: TOOL_DEFAULTS,
      reflectEveryLoops: 40,
      ...overrides,
    };
  }

  it('perceives, decides, acts and reflects in that order, fetching the world at start and every few loops', async () => {
    const ada = await newAgent('Ada');
    const config = configFor(ada);
    const WORLD = 'GET /api/world';
    const SELF = `GET /api/agents/${ada.id}`;
    const MAIL = `GET /api/agents/${ada.id}/mail`;
    const MOVE = `POST /api/agents/${ada.id}/move`;
    const ACTION = `POST /api/agents/${ada.id}/action`;
    const timeline: string[] = [];
    const controller = new AbortController();
    const greeting = `Off to the café (${ada.id})`;
    const brain = new RecordingBrain(
      ({ loop }) => {
        if (loop === 1) return [{ kind: 'move', to: { landmark: 'cafe' } }];
        if (loop === 2)
          return [
            { kind: 'say', text: greeting },
            { kind: 'emote', emote: 'wave' },
          ];
        if (loop === 7) return [{ kind: 'emote', emote: 'think' }];
        return [{ kind: 'idle', why: 'watching the village' }];
      },
      { timeline, stopAfter: { loops: 12, controller } },
    );
    const { log, out, err } = capturedLog(ada.id);

    const summary = await runUntil(
      config,
      { client: tappedClient(config, timeline), brain, log, worldRefreshLoops: 5, random: () => 0.5 },
      { controller, what: '12 loops' },
    );

    assert.equal(summary.loops, 12);
    const loops: string[][] = [[]];
    for (const entry of timeline) {
      loops.at(-1)!.push(entry);
      if (entry === 'reflect') loops.push([]);
    }
    assert.deepEqual(loops.pop(), [], 'a request after the stop');
    const acts: Record<number, string[]> = { 1: [MOVE], 2: [ACTION, ACTION], 7: [ACTION] };
    assert.deepEqual(
      loops,
      loops.map((_, index) => [
        ...(index % 5 === 0 ? [WORLD] : []),
        SELF,
        MAIL,
        'decide',
        ...(acts[index + 1] ?? []),
        'reflect',
      ]),
    );

    // What the brain perceived is the server's state: the world's real landmarks, the same world
    // object until the next fetch, and, a loop after the move, the walk the server started.
    const perceived = brain.decided.map((entry) => entry.perception);
    assert.deepEqual(perceived[0]!.world.landmarks, LANDMARKS, 'perceptions.ts no longer matches the server');
    assert.equal(perceived[4]!.world, perceived[0]!.world);
    assert.notEqual(perceived[5]!.world, perceived[0]!.world);
    assert.ok(perceived.every((perception, index) => perception.loop === index + 1));
    assert.ok(perceived.every((perception, index) => index === 0 || perception.tick >= perceived[index - 1]!.tick));
    assert.equal(perceived[0]!.self.landmark, 'town-square');
    const cafe = landmark('cafe');
    assert.deepEqual(perceived[1]!.self.walking?.destination, cafe.entrance, 'the walk is not what the server had');
    assert.equal(perceived[1]!.self.walking?.landmark, 'cafe');
    const [moved] = brain.reflected[0]!.outcomes;
    assert.equal(moved?.status, 'done');
    assert.equal(moved.status === 'done' && moved.move?.outcome, 'walking');

    // The village saw all of it, in order.
    const walk = await viewer.waitFor('agent.walk_started', ada.id);
    assert.equal(walk.landmark, 'cafe');
    const said = await viewer.waitFor('agent.said', ada.id);
    assert.equal(said.text, greeting);
    await viewer.waitFor('agent.emoted', ada.id, (event) => event.emote === 'think');
    assert.deepEqual(
      viewer.of('agent.emoted', ada.id).map((event) => event.emote),
      ['wave', 'think'],
    );
    assert.ok(viewer.events.indexOf(walk) < viewer.events.indexOf(said));
    // And the walk ends at the café, one tile per tick.
    const arrived = await eventually(async () => {
      const self = await village.admin.agent(ada.id);
      return self.walking === null && self.landmark === 'cafe' ? self : undefined;
    }, 'Ada to arrive at the café');
    assert.deepEqual(arrived.position, cafe.entrance);

    assert.deepEqual(err, [], 'errors on a good day');
    assert.ok(out.every((line) => line.agent === ada.id && line.level === 'info'));
    assert.deepEqual(
      out.filter((line) => line.phase === 'act').map((line) => line.intent),
      ['move:cafe', 'say', 'emote:wave', 'emote:think'],
    );
    assert.equal(out.at(-1)?.phase, 'stop');
    assert.ok(summary.memory.some((episode) => episode.intent.kind === 'move' && episode.note === 'walking'));
  });

  it('with the scripted brain, walks to a landmark and says something there', async () => {
    const bea = await newAgent('Bea', ADA_PERSONA);
    const config = configFor(bea, { loopMs: 200 });
    const { log, out, err } = capturedLog(bea.id);
    const states: Agent[] = [];
    let visit: { landmark: string; line: string } | undefined;

    // The real runtime as main.js runs it: its own client and the brain the configuration names.
    await runUntil(
      config,
      { log },
      {
        what: 'Bea to walk somewhere and speak there',
        timeoutMs: 20_000,
        until: async () => {
          states.push(await village.admin.agent(bea.id));
          for (const [index, state] of states.entries()) {
            const heading = state.walking?.landmark;
            if (!heading) continue;
            const { entrance } = landmark(heading);
            const there = states
              .slice(index)
              .some(
                (later) => later.walking === null && later.landmark === heading && samePlace(later.position, entrance),
              );
            const line = viewer.of('agent.said', bea.id).find((event) => samePlace(event.position, entrance));
            if (there && line) {
              visit = { landmark: heading, line: line.text };
              return true;
            }
          }
          return false;
        },
      },
    );

    assert.ok(visit, 'no visit');
    assert.deepEqual(err, []);
    assert.ok(out.some((line) => line.phase === 'act' && line.intent === `move:${visit!.landmark}`));
    assert.ok(out.some((line) => line.phase === 'act' && line.intent === 'say' && line.text === visit!.line));
    assert.ok(visit.line.length > 0 && visit.line.length <= 200, visit.line);
    await viewer.waitFor('agent.arrived', bea.id, (event) => event.landmark === visit!.landmark);
  });

  it('backs off, longer each time, while the control plane is down, and acts again once it is back', async () => {
    const cleo = await newAgent('Cleo');
    const config = configFor(cleo, { loopMs: 100 });
    const spawn = cleo.position;
    // One step east and back, every loop; in loop 3 the control plane goes down between decide and act.
    const brain = new RecordingBrain(async ({ loop, self }) => {
      const step: Intent = { kind: 'move', to: { dx: samePlace(self.position, spawn) ? 1 : -1, dy: 0 } };
      if (loop !== 3) return [step];
      await village.stop();
      return [step, { kind: 'say', text: 'Is anyone there?' }];
    });
    const { log, out, err } = capturedLog(cleo.id);
    const { sleeps, sleep } = recordedSleeps();
    const controller = new AbortController();
    const run = runUntil(
      config,
      { brain, log, sleep, random: () => 1, maxBackoffMs: 1600 },
      { controller, what: 'the outage to end', timeoutMs: 25_000 },
    );

    try {
      await eventually(() => err.length >= 4, 'four failures while the control plane is down');
      assert.equal(village.running, false);
      const lastVersion = Math.max(
        ...brain.outcomes().map((outcome) => (outcome.status === 'done' && outcome.move?.version) || 0),
      );
      await village.start();
      const resumed = await eventually(
        () =>
          brain.reflected
            .slice(3)
            .flatMap((entry) => entry.outcomes)
            .find((outcome) => outcome.status === 'done' && outcome.move),
        'a move once the control plane is back',
      );
      controller.abort();
      await run;

      // The move landed: the server has it, with a newer version than before the outage.
      assert.ok(resumed.status === 'done' && resumed.move);
      assert.ok(resumed.move.version > lastVersion, `${resumed.move.version} after ${lastVersion}`);
      assert.ok((await village.admin.agent(cleo.id)).version >= resumed.move.version);
    } finally {
      controller.abort();
      await run.catch(() => undefined);
      if (!village.running) await village.start();
    }

    // Loop 3: the move failed on the network, the say after it was not tried.
    assert.deepEqual(
      brain.reflected[2]!.outcomes.map((outcome) => outcome.status),
      ['failed', 'skipped'],
    );
    // Each failure an error line; the wait doubles from twice the period up to the cap.
    assert.equal(err[0]!.phase, 'act');
    assert.match(err[0]!.intent ?? '', /^step:/);
    assert.ok(
      err.slice(1).every((line) => line.phase === 'perceive'),
      JSON.stringify(err),
    );
    // (The first request may still find the old keep-alive socket, closed under it.)
    assert.match(err[0]!.message ?? '', /fetch failed \((ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET)\)/);
    for (const line of err.slice(1)) assert.match(line.message ?? '', /fetch failed \(ECONNREFUSED\)/);
    assert.ok(err.every((line) => line.level === 'error'));
    const expected = err.map((_, index) => Math.min(1600, 200 * 2 ** index));
    assert.deepEqual(
      err.map((line) => line.retryInMs),
      expected,
    );
    // The loop waited that long: start offset and two periods, then the back-offs, then a period again.
    assert.deepEqual(sleeps.slice(0, 3 + expected.length + 1), [100, 115, 115, ...expected, 115]);
    assert.ok(out.some((line) => line.recovered === true && line.failures === err.length));
  });

  it('stops with AgentAuthError after one request when the token is wrong (401)', async () => {
    const dan = await newAgent('Dan');
    const config = configFor(dan, { agentToken: 'avt_this-is-not-dans-token' });
    const timeline: string[] = [];
    const brain = new RecordingBrain(() => [{ kind: 'emote', emote: 'wave' }]);
    const { log, err } = capturedLog(dan.id);

    await assert.rejects(
      runUntil(config, { client: tappedClient(config, timeline), brain, log }, { what: 'the refusal' }),
      (error) => {
        assert.ok(error instanceof AgentAuthError, String(error));
        assert.equal(error.status, 401);
        assert.equal(error.phase, 'perceive');
        assert.match(error.message, /bearer token is not valid.*VILLAGE_AGENT_TOKEN is wrong or revoked/);
        return true;
      },
    );
    assert.deepEqual(timeline, ['GET /api/world'], 'kept calling after a 401');
    assert.equal(brain.decided.length, 0);
    assert.deepEqual(
      err.map((line) => [line.level, line.phase, line.status, line.fatal]),
      [['error', 'perceive', 401, true]],
    );
  });

  it('stops with AgentAuthError when the server forbids it (403: an id that is not its token’s)', async () => {
    // The 403 the real API gives an agent's token: acting as another agent. VILLAGE_AGENT_ID names
    // Fay, the token is Eve's: reading Fay is public, reading her mail (every loop) is not.
    const eve = await newAgent('Eve');
    const fay = await newAgent('Fay');
    const config = configFor(fay, { agentToken: eve.token });
    const timeline: string[] = [];
    const brain = new RecordingBrain(() => [{ kind: 'move', to: { dx: 1, dy: 0 } }]);
    const { log, err } = capturedLog(fay.id);

    await assert.rejects(
      runUntil(config, { client: tappedClient(config, timeline), brain, log }, { what: 'the refusal' }),
      (error) => {
        assert.ok(error instanceof AgentAuthError, String(error));
        assert.equal(error.status, 403);
        assert.equal(error.phase, 'perceive');
        assert.match(error.message, new RegExp(`${eve.id} may act only as itself, not as ${fay.id}`));
        return true;
      },
    );
    assert.deepEqual(timeline, ['GET /api/world', `GET /api/agents/${fay.id}`, `GET /api/agents/${fay.id}/mail`]);
    assert.equal(brain.decided.length, 0);
    assert.deepEqual(
      err.map((line) => [line.level, line.phase, line.status, line.fatal]),
      [['error', 'perceive', 403, true]],
    );
    for (const agent of [eve, fay]) {
      const now = await village.admin.agent(agent.id);
      assert.deepEqual([now.position, now.version], [agent.position, agent.version], `${agent.id} moved`);
    }
  });

  it('tells the brain when the server refuses an action (422), and goes on without backing off', async () => {
    const gus = await newAgent('Gus');
    const controller = new AbortController();
    const brain = new RecordingBrain(
      ({ loop }) => {
        if (loop === 1) return [{ kind: 'move', to: { landmark: 'atlantis' } }];
        if (loop === 2) return [{ kind: 'emote', emote: 'shrug' }];
        return [{ kind: 'idle' }];
      },
      { stopAfter: { loops: 3, controller } },
    );
    const { log, err } = capturedLog(gus.id);
    const { sleeps, sleep } = recordedSleeps();

    const summary = await runUntil(
      configFor(gus),
      { brain, log, sleep, random: () => 0.5 },
      { controller, what: 'three loops' },
    );

    assert.deepEqual(
      err.map((line) => [line.level, line.phase, line.status, line.intent]),
      [['warn', 'act', 422, 'move:atlantis']],
    );
    assert.match(err[0]!.message ?? '', /there is no landmark "atlantis"/);
    const [refused] = brain.reflected[0]!.outcomes;
    assert.equal(refused?.status, 'rejected');
    assert.equal(refused.status === 'rejected' && refused.httpStatus, 422);
    assert.match(summary.memory.find((episode) => episode.status === 'rejected')?.note ?? '', /atlantis/);
    // No back-off: the start offset, then one plain period after each loop.
    assert.deepEqual(sleeps, [25, 50, 50]);
    // The next loop's action reached the village; the refused move changed nothing there.
    await viewer.waitFor('agent.emoted', gus.id, (event) => event.emote === 'shrug');
    const now = await village.admin.agent(gus.id);
    assert.equal(now.walking, null);
    assert.deepEqual([now.position, now.version], [gus.position, gus.version]);
  });

  it('counts penalties from its ledger, read only in loops where the balance changed; its spending is none', async () => {
    const ida = await newAgent('Ida');
    const account = `agent:${ida.id}`;
    await village.admin.createTransfer({
      debitAccount: 'treasury',
      creditAccount: account,
      amount: 10_000,
      reason: 'grant',
    });
    const LEDGER = `GET /api/economy/ledger/${ida.id}`;
    const timeline: string[] = [];
    const controller = new AbortController();
    // What happens to its money between loops (the brain's turn is the test's): spending, then a
    // penalty among more spending, then a reward.
    const brain = new RecordingBrain(
      async ({ loop }) => {
        if (loop === 2) {
          await village.admin.createTransfer({
            debitAccount: account,
            creditAccount: 'compute_revenue',
            amount: 1_500,
            reason: 'compute_purchase',
          });
        }
        if (loop === 4) {
          await village.admin.createTransfer({
            debitAccount: account,
            creditAccount: 'compute_revenue',
            amount: 300,
            reason: 'gpu_usage',
          });
          await village.admin.penalize({ agent_id: ida.id, amount: 2_000, reason: 'spam' });
        }
        if (loop === 6) await village.admin.reward({ agent_id: ida.id, amount: 700, reason: 'kind words' });
        return [{ kind: 'idle' }];
      },
      { timeline, stopAfter: { loops: 8, controller } },
    );
    const config = configFor(ida);
    await runUntil(
      config,
      { client: tappedClient(config, timeline), brain, log: capturedLog(ida.id).log },
      { controller, what: '8 loops' },
    );

    const seen = brain.decided.map(({ perception }) => [perception.self.economy.balance, perception.penalized]);
    assert.deepEqual(seen, [
      [10_000, 0],
      [10_000, 0],
      [8_500, 0],
      [8_500, 0],
      [6_200, 2_000],
      [6_200, 2_000],
      [6_900, 2_000],
      [6_900, 2_000],
    ]);
    // Three reads: the loops after the spending, the penalty and the reward; none while the balance stays.
    assert.equal(timeline.filter((entry) => entry === LEDGER).length, 3, timeline.join('\n'));
  });

  it('refuses a malformed intent before any request: a 501-character say, a two-tile step', async () => {
    const hal = await newAgent('Hal');
    const timeline: string[] = [];
    const controller = new AbortController();
    const brain = new RecordingBrain(
      ({ loop }) =>
        loop === 1
          ? [
              { kind: 'say', text: 'x'.repeat(501) },
              { kind: 'move', to: { dx: 2, dy: 0 } },
            ]
          : [{ kind: 'emote', emote: 'cheer' }],
      { timeline, stopAfter: { loops: 2, controller } },
    );
    const { log, err } = capturedLog(hal.id);
    const config = configFor(hal);

    await runUntil(config, { client: tappedClient(config, timeline), brain, log }, { controller, what: 'two loops' });

    const firstLoop = timeline.slice(0, timeline.indexOf('reflect'));
    assert.deepEqual(
      firstLoop,
      ['GET /api/world', `GET /api/agents/${hal.id}`, `GET /api/agents/${hal.id}/mail`, 'decide'],
      'a request for a bad intent',
    );
    const [say, step] = brain.reflected[0]!.outcomes;
    assert.equal(say?.status, 'rejected');
    assert.match(say.status === 'rejected' ? say.message : '', /^not a valid action: text: .*500/);
    assert.equal(step?.status, 'rejected');
    assert.match(step.status === 'rejected' ? step.message : '', /^not a valid move: dx: /);
    assert.deepEqual(
      err.map((line) => [line.level, line.phase, line.intent]),
      [
        ['warn', 'act', 'say'],
        ['warn', 'act', 'step:2,0'],
      ],
    );
    // The village heard the cheer of loop 2, and nothing before it.
    await viewer.waitFor('agent.emoted', hal.id, (event) => event.emote === 'cheer');
    assert.deepEqual(viewer.of('agent.said', hal.id), []);
    assert.equal((await village.admin.agent(hal.id)).version, hal.version);
  });
});
