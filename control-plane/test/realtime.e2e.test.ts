import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Agent } from '../src/contract/index.js';
import { createTestEnvironment, startTestApp, type TestApp, type TestEnvironment } from './support/test-app.js';
import { TestViewer } from './support/viewer.js';
import { VillageClient } from '../src/contract/index.js';

describe('realtime viewers (socket.io)', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let viewer: TestViewer;
  let ada: Agent & { token: string };

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '100' });
    village = await startTestApp(environment);
    // Ada starts in the café, a short walk from the town board.
    ada = await village.admin.createAgent({ id: 'ada', displayName: 'Ada', spawn: { landmark: 'cafe' } });
    viewer = new TestViewer(village.url);
    await viewer.ready();
  });

  after(async () => {
    viewer?.close();
    await village?.close();
    await environment?.dispose();
  });

  test('a viewer gets a snapshot of every agent on connect', () => {
    const snapshot = viewer.snapshots[0]!;
    assert.deepEqual(
      snapshot.agents.map((a) => a.id),
      ['ada'],
    );
    assert.deepEqual(snapshot.agents[0]!.position, ada.position);
  });

  test('a viewer sees an agent walk, tile by tile, and arrive at a landmark', async () => {
    const client = new VillageClient({ baseUrl: village.url, token: ada.token });
    const move = await client.move('ada', { landmark: 'town-board' });
    assert.equal(move.outcome, 'walking');
    const started = await viewer.waitFor('agent.walk_started', (e) => e.agentId === 'ada');
    assert.equal(started.landmark, 'town-board');
    const arrived = await viewer.waitFor('agent.arrived', (e) => e.agentId === 'ada', 15_000);
    assert.equal(arrived.landmark, 'town-board');
    const steps = viewer.events.filter((e) => e.type === 'agent.moved' && e.agentId === 'ada');
    assert.equal(steps.length, move.eta, 'one moved event per tile');
    // Each step is one tile from the previous one, versions strictly increasing.
    let previous = move.position;
    let version = move.version;
    for (const step of steps) {
      assert.equal(step.type, 'agent.moved');
      if (step.type !== 'agent.moved') continue;
      assert.equal(Math.abs(step.position.x - previous.x) + Math.abs(step.position.y - previous.y), 1);
      assert.ok(step.version > version);
      previous = step.position;
      version = step.version;
    }
    assert.deepEqual(arrived.position, move.destination);
    const last = steps.at(-1);
    assert.equal(last?.type === 'agent.moved' && last.landmark, 'town-board', 'moves name the landmark they enter');
    const agent = await client.agent('ada');
    assert.equal(agent.landmark, 'town-board');
    assert.equal(agent.walking, null);
  });

  test('said, emoted and online events reach viewers', async () => {
    const client = new VillageClient({ baseUrl: village.url, token: ada.token });
    await client.act('ada', { type: 'say', text: 'Anyone up for coffee?' });
    const said = await viewer.waitFor('agent.said', (e) => e.agentId === 'ada');
    assert.equal(said.text, 'Anyone up for coffee?');
    await client.act('ada', { type: 'emote', emote: 'wave' });
    await viewer.waitFor('agent.emoted', (e) => e.emote === 'wave');
    await viewer.waitFor('agent.online', (e) => e.agentId === 'ada');
    const ticks = viewer.events.filter((e) => e.type === 'world.tick');
    assert.ok(ticks.length > 0, 'the clock ticks');
    assert.ok(ticks.every((t, i) => i === 0 || t.tick > ticks[i - 1]!.tick));
  });

  test('a new agent appears for viewers', async () => {
    await village.admin.createAgent({ id: 'basil', displayName: 'Basil' });
    const created = await viewer.waitFor('agent.created', (e) => e.agent.id === 'basil');
    assert.equal(created.agent.displayName, 'Basil');
  });
  test('a viewer who connects later gets the recent feed with the snapshot', async () => {
    const late = new TestViewer(village.url);
    try {
      await late.ready();
      const recent = late.snapshots[0]!.recent;
      assert.ok(recent.some((e) => e.type === 'agent.said' && e.text === 'Anyone up for coffee?'));
      assert.ok(recent.some((e) => e.type === 'agent.arrived' && e.landmark === 'town-board'));
      assert.ok(
        recent.every((e) => ['agent.said', 'agent.arrived', 'agent.online', 'agent.offline'].includes(e.type)),
        'only feed events',
      );
      const ticks = recent.map((e) => e.tick);
      assert.deepEqual(
        ticks,
        [...ticks].sort((x, y) => x - y),
        'oldest first',
      );
    } finally {
      late.close();
    }
  });
});
