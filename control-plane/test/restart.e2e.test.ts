import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { VillageClient } from '../src/contract/index.js';
import { createTestEnvironment, eventually, startTestApp, type TestEnvironment } from './support/test-app.js';

describe('state is persisted: a restart resumes where the village stopped', () => {
  let environment: TestEnvironment;

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '100' });
  });
  after(async () => {
    await environment?.dispose();
  });

  test('agents, their walks and the clock survive a restart', async () => {
    const first = await startTestApp(environment);
    const agent = await first.admin.createAgent({ id: 'ada', displayName: 'Ada', spawn: { x: 0, y: 29 } });
    const ada = new VillageClient({ baseUrl: first.url, token: agent.token });
    const walk = await ada.move('ada', { x: 60, y: 29 });
    await eventually(async () => (await ada.agent('ada')).position.x >= 5, 'a few steps');
    await first.close();

    const second = await startTestApp(environment);
    try {
      const client = new VillageClient({ baseUrl: second.url });
      const resumed = await client.agent('ada');
      assert.ok(resumed.position.x >= 5, 'the position was kept');
      assert.ok(resumed.walking, 'still walking');
      assert.equal(resumed.walking.destination.x, 60);
      const world = await client.world();
      assert.ok(world.clock.tick >= 5, `the clock resumed at ${world.clock.tick}, not 0`);
      await eventually(async () => (await client.agent('ada')).walking === null, 'the walk to finish', 15_000);
      const done = await client.agent('ada');
      assert.deepEqual(done.position, walk.destination);
    } finally {
      await second.close();
    }
  });
});
