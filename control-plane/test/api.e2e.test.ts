import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { AgentSchema, ApiErrorSchema, WorldSchema, type Agent } from '../src/contract/index.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';

describe('control plane API (supertest, real PostgreSQL and Redis)', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let server: Parameters<typeof request>[0];
  let ada: Agent & { token: string };

  before(async () => {
    // A slow clock: these tests check moves, not walking.
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '60000' });
    village = await startTestApp(environment);
    server = village.app.getHttpServer();
    ada = await village.admin.createAgent({ displayName: 'Ada', persona: 'engineer' });
    await village.admin.createAgent({ id: 'basil', displayName: 'Basil', spawn: { landmark: 'market' } });
  });

  after(async () => {
    await village?.close();
    await environment?.dispose();
  });

  const asAgent = (agent: { token: string }) => ({ authorization: `Bearer ${agent.token}` });
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const positionOf = async (id: string) => AgentSchema.parse((await request(server).get(`/api/agents/${id}`)).body);
  const expectError = (body: unknown, pattern: RegExp) => {
    const error = ApiErrorSchema.parse(body);
    assert.match(error.message, pattern);
  };

  test('health reports PostgreSQL and Redis', async () => {
    const response = await request(server).get('/api/health').expect(200);
    assert.equal(response.body.status, 'ok');
    assert.equal(response.body.checks.postgres.ok, true);
    assert.equal(response.body.checks.redis.ok, true);
  });

  test('the world has its size, map, landmarks and agents', async () => {
    const world = WorldSchema.parse((await request(server).get('/api/world').expect(200)).body);
    assert.ok(world.size.width >= 64 && world.size.height >= 48);
    for (const kind of ['home', 'cafe', 'market', 'board', 'park']) {
      assert.ok(
        world.landmarks.some((l) => l.kind === kind),
        `a ${kind} landmark`,
      );
    }
    assert.deepEqual(world.agents.map((a) => a.id).sort(), ['ada', 'basil']);
    const map = (await request(server).get(world.map.url).expect(200)).body;
    assert.equal(map.width, world.size.width);
    assert.ok(map.layers.some((layer: { name: string }) => layer.name === 'ground'));
  });

  test('creating an agent needs the admin token and returns its token once', async () => {
    await request(server).post('/api/agents').send({ displayName: 'Eve' }).expect(401);
    const forbidden = await request(server)
      .post('/api/agents')
      .set(asAgent(ada))
      .send({ displayName: 'Eve' })
      .expect(403);
    expectError(forbidden.body, /admin/);
    assert.match(ada.token, /^avt_/);
    assert.equal(ada.position.x, 34, 'spawns on the town square');
    const fetched = (await request(server).get('/api/agents/ada').expect(200)).body;
    assert.equal(fetched.token, undefined, 'the token is never shown again');
    const duplicate = await request(server).post('/api/agents').set(admin).send({ id: 'basil', displayName: 'B' });
    assert.equal(duplicate.status, 409);
  });

  test('a step moves the agent by one tile at once', async () => {
    const before = await positionOf('ada');
    const response = await request(server).post('/api/agents/ada/move').set(asAgent(ada)).send({ dx: 1 }).expect(200);
    assert.equal(response.body.outcome, 'moved');
    const after = await positionOf('ada');
    assert.deepEqual(after.position, { x: before.position.x + 1, y: before.position.y });
    assert.equal(after.version, before.version + 1);
  });

  test('a landmark destination is path-found and walked by the clock', async () => {
    const response = await request(server)
      .post('/api/agents/ada/move')
      .set(asAgent(ada))
      .send({ landmark: 'cafe' })
      .expect(202);
    assert.equal(response.body.outcome, 'walking');
    assert.equal(response.body.landmark, 'cafe');
    assert.ok(response.body.eta > 0);
    const agent = await positionOf('ada');
    assert.equal(agent.walking?.landmark, 'cafe');
    assert.equal(agent.walking?.remaining, response.body.eta);
  });

  test('bad input gets a clear 4xx and changes nothing', async () => {
    const before = await positionOf('ada');
    const cases: Array<[object | string, number, RegExp]> = [
      ['{"dx": 1', 400, /malformed JSON/],
      [{ dx: 1, sneaky: true }, 400, /sneaky/],
      [{ dx: 2 }, 400, /dx/],
      [{ dx: 1, dy: 1 }, 400, /exactly one of dx, dy/],
      [{ x: 5 }, 400, /both x and y/],
      [{ x: 1, y: 1, landmark: 'cafe' }, 400, /exactly one of/],
      [{ x: 9999, y: 1 }, 422, /outside the .* map/],
      [{ x: 0, y: 0 }, 422, /blocked \(tree\)/],
      [{ landmark: 'atlantis' }, 422, /no landmark "atlantis"/],
      [{}, 400, /exactly one of/],
    ];
    for (const [body, status, message] of cases) {
      const call = request(server)
        .post('/api/agents/ada/move')
        .set(asAgent(ada))
        .set('content-type', 'application/json');
      const response = await call.send(typeof body === 'string' ? body : JSON.stringify(body));
      assert.equal(response.status, status, `${JSON.stringify(body)} → ${response.status} ${response.text}`);
      expectError(response.body, message);
    }
    const notJson = await request(server)
      .post('/api/agents/ada/move')
      .set(asAgent(ada))
      .set('content-type', 'text/plain')
      .send('dx=1');
    assert.equal(notJson.status, 415);
    expectError(notJson.body, /send the body as JSON/);
    const after = await positionOf('ada');
    assert.deepEqual(after.position, before.position);
    assert.equal(after.version, before.version);
    assert.deepEqual(after.walking, before.walking);
  });

  test('a step into a blocked tile or off the map is refused', async () => {
    // (0, 29) is the west end of the main street: trees north of it, the map's edge west of it.
    const walker = await village.admin.createAgent({ id: 'edge-walker', displayName: 'Edge', spawn: { x: 0, y: 29 } });
    const north = await request(server)
      .post('/api/agents/edge-walker/move')
      .set(asAgent(walker))
      .send({ dy: -1 })
      .expect(422);
    expectError(north.body, /blocked \(tree\)/);
    const west = await request(server)
      .post('/api/agents/edge-walker/move')
      .set(asAgent(walker))
      .send({ dx: -1 })
      .expect(422);
    expectError(west.body, /outside the 80×60 map/);
    assert.deepEqual((await positionOf('edge-walker')).position, { x: 0, y: 29 });
  });

  test('a retried move with the same Idempotency-Key is applied once', async () => {
    const before = await positionOf('ada');
    const step = (key: string, body: object) =>
      request(server).post('/api/agents/ada/move').set(asAgent(ada)).set('idempotency-key', key).send(body);
    const first = await step('step-0001-retry', { dy: 1 }).expect(200);
    const retry = await step('step-0001-retry', { dy: 1 }).expect(200);
    assert.deepEqual(retry.body, first.body, 'the retry gets the first answer');
    const after = await positionOf('ada');
    assert.equal(after.version, before.version + 1, 'applied once');
    const walk = await step('walk-0001-retry', { landmark: 'market' }).expect(202);
    const walkAgain = await step('walk-0001-retry', { landmark: 'market' }).expect(202);
    assert.deepEqual(walkAgain.body, walk.body, 'the status is kept too');
    const misuse = await step('step-0001-retry', { dy: -1 }).expect(422);
    expectError(misuse.body, /already used for a different request/);
    const bad = await step('x', { dy: 1 }).expect(400);
    expectError(bad.body, /Idempotency-Key must be/);
    // A request that failed leaves its key free for a corrected retry.
    await step('fix-0001-retry', { landmark: 'atlantis' }).expect(422);
    await step('fix-0001-retry', { landmark: 'atlantis' }).expect(422);
    await village.admin.move('ada', { dy: -1 }, { idempotencyKey: 'admin-0001-retry' });
  });

  test('an agent acts only as itself', async () => {
    const response = await request(server).post('/api/agents/basil/move').set(asAgent(ada)).send({ dx: 1 }).expect(403);
    expectError(response.body, /only as itself/);
    await request(server)
      .post('/api/agents/basil/action')
      .set(asAgent(ada))
      .send({ type: 'say', text: 'hi' })
      .expect(403);
  });

  test('a missing or wrong token is refused', async () => {
    const missing = await request(server).post('/api/agents/ada/move').send({ dx: 1 }).expect(401);
    expectError(missing.body, /missing bearer token/);
    const wrong = await request(server)
      .post('/api/agents/ada/move')
      .set({ authorization: 'Bearer avt_not-a-real-token' })
      .send({ dx: 1 })
      .expect(401);
    expectError(wrong.body, /not valid/);
    const malformed = await request(server)
      .post('/api/agents/ada/move')
      .set({ authorization: 'Basic abc' })
      .send({ dx: 1 });
    assert.equal(malformed.status, 401);
  });

  test('the admin may move any agent; an unknown agent is a 404', async () => {
    await request(server).post('/api/agents/basil/move').set(admin).send({ landmark: 'park' }).expect(202);
    const missing = await request(server).post('/api/agents/nobody/move').set(admin).send({ dx: 1 }).expect(404);
    expectError(missing.body, /no agent with id "nobody"/);
    await request(server).get('/api/agents/nobody').expect(404);
  });

  test('actions: say and emote; unknown or malformed actions are refused', async () => {
    const said = await request(server)
      .post('/api/agents/ada/action')
      .set(asAgent(ada))
      .send({ type: 'say', text: 'Good morning!' })
      .expect(200);
    assert.equal(said.body.action.text, 'Good morning!');
    await request(server)
      .post('/api/agents/ada/action')
      .set(asAgent(ada))
      .send({ type: 'emote', emote: 'wave' })
      .expect(200);
    for (const body of [
      { type: 'dance' },
      { type: 'say' },
      { type: 'say', text: '' },
      { type: 'say', text: 'x'.repeat(501) },
      { type: 'emote', emote: 'moonwalk' },
      { type: 'say', text: 'hi', loud: true },
    ]) {
      const response = await request(server).post('/api/agents/ada/action').set(asAgent(ada)).send(body);
      assert.equal(response.status, 400, JSON.stringify(body));
      ApiErrorSchema.parse(response.body);
    }
  });

  test('an agent that calls the API comes online', async () => {
    const agent = await positionOf('ada');
    assert.equal(agent.status.online, true);
    assert.ok(agent.status.lastSeenAt);
  });

  test('lists follow the ra-data-simple-rest conventions', async () => {
    for (let i = 0; i < 5; i++) await village.admin.createAgent({ id: `villager-${i}`, displayName: `Villager ${i}` });
    const page = await request(server)
      .get('/api/agents')
      .query({ sort: JSON.stringify(['displayName', 'DESC']), range: JSON.stringify([0, 2]) })
      .expect(200);
    assert.equal(page.headers['content-range'], 'agents 0-2/8');
    assert.deepEqual(
      page.body.map((a: Agent) => a.displayName),
      ['Villager 4', 'Villager 3', 'Villager 2'],
    );
    const many = await request(server)
      .get('/api/agents')
      .query({ filter: JSON.stringify({ id: ['ada', 'basil'] }) })
      .expect(200);
    assert.deepEqual(many.body.map((a: Agent) => a.id).sort(), ['ada', 'basil']);
    const search = await request(server)
      .get('/api/agents')
      .query({ filter: JSON.stringify({ q: 'engineer' }) })
      .expect(200);
    assert.deepEqual(
      search.body.map((a: Agent) => a.id),
      ['ada'],
    );
    const online = await request(server)
      .get('/api/agents')
      .query({ filter: JSON.stringify({ online: true }) })
      .expect(200);
    assert.ok(online.body.length > 0, 'Ada is online');
    assert.ok(online.body.every((a: Agent) => a.status.online));
    for (const wildcard of ['%', '_', '\\']) {
      const literal = await request(server)
        .get('/api/agents')
        .query({ filter: JSON.stringify({ q: wildcard }) })
        .expect(200);
      assert.deepEqual(literal.body, [], `q=${wildcard} is literal text, not a wildcard`);
    }
    const pastTheEnd = await request(server)
      .get('/api/agents')
      .query({ range: JSON.stringify([50, 59]) })
      .expect(200);
    assert.deepEqual(pastTheEnd.body, []);
    assert.equal(pastTheEnd.headers['content-range'], 'agents */8');
    const cors = await request(server).get('/api/agents').set('origin', 'http://localhost:5173');
    assert.match(String(cors.headers['access-control-expose-headers']), /Content-Range/);
    for (const query of [{ sort: '["nope","ASC"]' }, { range: '[5,1]' }, { filter: '{bad' }, { sort: '["id","UP"]' }]) {
      const response = await request(server).get('/api/agents').query(query);
      assert.equal(response.status, 400, JSON.stringify(query));
      ApiErrorSchema.parse(response.body);
    }
  });

  test('creating an agent with bad input is refused', async () => {
    const cases: Array<[object, number, RegExp]> = [
      [{}, 400, /displayName/],
      [{ displayName: '' }, 400, /displayName/],
      [{ displayName: 'X', id: 'Bad Id!' }, 400, /id: must be 2-63 characters/],
      [{ displayName: 'X', spawn: { x: 0, y: 0 } }, 422, /blocked \(tree\)/],
      [{ displayName: 'X', spawn: { landmark: 'atlantis' } }, 422, /no landmark "atlantis"/],
      [{ displayName: 'X', role: 'king' }, 400, /role/],
      [{ displayName: 'Nul\u0000l' }, 400, /NUL/],
    ];
    for (const [body, status, message] of cases) {
      const response = await request(server).post('/api/agents').set(admin).send(body);
      assert.equal(response.status, status, `${JSON.stringify(body)} → ${response.status} ${response.text}`);
      expectError(response.body, message);
    }
    const total = (await request(server).get('/api/agents')).headers['content-range'];
    assert.match(String(total), /\/8$/, 'no agent was created');
  });

  test('text PostgreSQL cannot store is a 400, wherever it comes in', async () => {
    await request(server).get('/api/agents/a%00b').expect(400);
    const filter = await request(server)
      .get('/api/agents')
      .query({ filter: JSON.stringify({ id: 'a\u0000b' }) });
    assert.equal(filter.status, 400);
    expectError(filter.body, /cannot be stored/);
    const say = await request(server)
      .post('/api/agents/ada/action')
      .set(asAgent(ada))
      .send({ type: 'say', text: 'a\u0000b' });
    assert.equal(say.status, 400);
  });

  test('a refused request is no sign of life', async () => {
    const quiet = await village.admin.createAgent({ id: 'quiet', displayName: 'Quiet' });
    await request(server).post('/api/agents/quiet/move').set(asAgent(quiet)).send({ dx: 5 }).expect(400);
    await request(server).post('/api/agents/quiet/move').set(asAgent(quiet)).send({ landmark: 'atlantis' }).expect(422);
    assert.equal((await positionOf('quiet')).status.online, false);
    await request(server)
      .post('/api/agents/quiet/action')
      .set(asAgent(quiet))
      .send({ type: 'emote', emote: 'wave' })
      .expect(200);
    assert.equal((await positionOf('quiet')).status.online, true);
  });

  test('a rotated token replaces the old one', async () => {
    const before = await village.admin.createAgent({ id: 'rotating', displayName: 'Rotating' });
    const emote = (token: string) =>
      request(server)
        .post('/api/agents/rotating/action')
        .set({ authorization: `Bearer ${token}` })
        .send({ type: 'emote', emote: 'smile' });
    await emote(before.token).expect(200);
    const rotated = await request(server).post('/api/agents/rotating/token').set(admin).expect(201);
    assert.notEqual(rotated.body.token, before.token);
    await emote(rotated.body.token).expect(200);
    const refused = await emote(before.token).expect(401);
    expectError(refused.body, /not valid/);
  });
});
