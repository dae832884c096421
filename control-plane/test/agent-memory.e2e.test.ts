import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import {
  MEMORY_LIMITS,
  VillageApiError,
  VillageClient,
  type Agent,
  type MemoryEpisode,
} from '../src/contract/index.js';
import { foldNotes } from '../src/agent-memory/note-folding.js';
import {
  createTestEnvironment,
  signUpPerson,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';

/** An agent's memory over HTTP: episodes and notes, written by the agent, read by it and moderators. */
describe("the agents' memory", () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let agents = 0;

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '60000' });
    village = await startTestApp(environment);
  });

  after(async () => {
    await village?.close();
    await environment?.dispose();
  });

  async function agent(): Promise<Agent & { token: string; client: VillageClient }> {
    const created = await village.admin.createAgent({ id: `rememberer${++agents}`, displayName: `R ${agents}` });
    return { ...created, client: new VillageClient({ baseUrl: village.url, token: created.token }) };
  }

  function episode(loop: number, overrides: Partial<MemoryEpisode> = {}): MemoryEpisode {
    return {
      key: `run1:${loop}`,
      loop,
      tick: loop * 2,
      position: { x: 3, y: 4 },
      landmark: 'cafe',
      intent: { kind: 'move', to: { landmark: 'cafe' } },
      status: 'done',
      note: 'walking',
      ...overrides,
    };
  }

  async function refused(work: Promise<unknown>, status: number, message?: RegExp) {
    await assert.rejects(work, (error: unknown) => {
      assert.ok(error instanceof VillageApiError, String(error));
      assert.equal(error.status, status, error.message);
      if (message) assert.match(error.body?.message ?? '', message);
      return true;
    });
  }

  test('episodes come back oldest first; the same key updates its line', async () => {
    const ada = await agent();
    const empty = await ada.client.memory(ada.id);
    assert.deepEqual(
      { notes: empty.notes, digest: empty.digest, folded: empty.folded, episodes: empty.episodes },
      { notes: [], digest: '', folded: 0, episodes: [] },
    );
    await ada.client.recordEpisodes(ada.id, [episode(1), episode(2, { intent: { kind: 'idle', why: 'resting' } })]);
    // The idle of loop 2 went on through loop 5: the runtime sends the same key with a count.
    const result = await ada.client.recordEpisodes(ada.id, [
      episode(5, { key: 'run1:2', intent: { kind: 'idle', why: 'resting' }, repeats: 4 }),
      episode(6, { status: 'rejected', note: 'blocked (tree)' }),
    ]);
    assert.deepEqual(result, { received: 2, kept: 3 });
    const memory = await ada.client.memory(ada.id);
    assert.deepEqual(
      memory.episodes.map((line) => [line.key, line.loop, line.repeats ?? 1, line.status]),
      [
        ['run1:1', 1, 1, 'done'],
        ['run1:2', 5, 4, 'done'],
        ['run1:6', 6, 1, 'rejected'],
      ],
    );
    assert.equal(memory.episodeCount, 3);
    assert.deepEqual(
      (await ada.client.memory(ada.id, { episodes: 1 })).episodes.map((line) => line.key),
      ['run1:6'],
    );
  });

  test('only the newest episodes are kept', async () => {
    const ada = await agent();
    const total = MEMORY_LIMITS.episodesKept + 30;
    for (let start = 1; start <= total; start += MEMORY_LIMITS.episodesPerReport) {
      const batch = Array.from({ length: Math.min(MEMORY_LIMITS.episodesPerReport, total - start + 1) }, (_, i) =>
        episode(start + i),
      );
      await ada.client.recordEpisodes(ada.id, batch);
    }
    const memory = await ada.client.memory(ada.id, { episodes: MEMORY_LIMITS.episodesKept });
    assert.equal(memory.episodeCount, MEMORY_LIMITS.episodesKept);
    assert.equal(memory.episodes[0]!.loop, 31, 'the 30 oldest were forgotten');
    assert.equal(memory.episodes.at(-1)!.loop, total);
  });

  test('notes are capped: beyond the cap the oldest fold into the digest; the agent may rewrite them', async () => {
    const ada = await agent();
    const extra = 3;
    for (let index = 1; index <= MEMORY_LIMITS.notes + extra; index++) {
      await ada.client.addNote(ada.id, `Note ${index}. Walked to the cafe and back.`);
    }
    const notes = await ada.client.memory(ada.id);
    assert.equal(notes.notes.length, MEMORY_LIMITS.notes);
    assert.equal(notes.notes[0]!.text, `Note ${extra + 1}. Walked to the cafe and back.`);
    assert.equal(notes.folded, extra);
    const digest = notes.digest.split('\n');
    assert.equal(digest.length, extra);
    assert.match(digest[0]!, /^\d{4}-\d\d-\d\d: Note 1\. Walked/);

    const rewritten = await ada.client.replaceNotes(ada.id, { notes: ['I like the library.', 'Bo owes me a coffee.'] });
    assert.deepEqual(
      rewritten.notes.map((note) => note.text),
      ['I like the library.', 'Bo owes me a coffee.'],
    );
    assert.equal(rewritten.digest, notes.digest, 'the digest stays unless given');
    const withDigest = await ada.client.replaceNotes(ada.id, { notes: [], digest: 'A quiet month.' });
    assert.equal(withDigest.digest, 'A quiet month.');
    assert.equal((await ada.client.memory(ada.id)).notes.length, 0);
  });

  test('the folding rule keeps the digest within its size, newest lines last', () => {
    const limits = { ...MEMORY_LIMITS, notes: 2, digestChars: 60, foldedNoteChars: 20 };
    const at = '2026-12-02T10:00:00.000Z';
    let state = { notes: [] as { text: string; at: string }[], digest: '', folded: 0 };
    for (let index = 1; index <= 8; index++) {
      state = foldNotes({ ...state, notes: [...state.notes, { text: `note number ${index} `.repeat(5), at }] }, limits);
    }
    assert.equal(state.notes.length, 2);
    assert.equal(state.folded, 6);
    assert.ok(state.digest.length <= 60, state.digest);
    assert.match(state.digest.split('\n').at(-1)!, /^2026-12-02: note number 6/);
  });

  test('only the agent writes its memory; it and moderators read it', async () => {
    const ada = await agent();
    const bo = await agent();
    await ada.client.addNote(ada.id, 'private thoughts');
    await refused(bo.client.memory(ada.id), 403, /only agent rememberer\d+ itself or a moderator/);
    await refused(bo.client.addNote(ada.id, 'graffiti'), 403, /may act only as itself/);
    await refused(bo.client.recordEpisodes(ada.id, [episode(1)]), 403);
    await refused(bo.client.replaceNotes(ada.id, { notes: [] }), 403);
    await refused(new VillageClient({ baseUrl: village.url }).memory(ada.id), 401);
    const { client: human } = await signUpPerson(village.url, 'snoop');
    await refused(human.memory(ada.id), 403);
    // The admin (a moderator) reads it; an unknown agent is 404.
    assert.deepEqual(
      (await village.admin.memory(ada.id)).notes.map((note) => note.text),
      ['private thoughts'],
    );
    await refused(village.admin.memory('nobody'), 404, /no agent with id "nobody"/);
    await refused(village.admin.addNote('nobody', 'x'), 404);
    await refused(village.admin.recordEpisodes('nobody', [episode(1)]), 404);
    assert.deepEqual((await ada.client.memory(ada.id)).notes.length, 1);
  });

  test('bad input is refused with what is wrong and changes nothing', async () => {
    const ada = await agent();
    const post = (path: string, body: unknown, method: 'post' | 'put' = 'post') => {
      const url = `/api/agents/${ada.id}/memory/${path}`;
      const agentApi = request(village.url);
      return (method === 'put' ? agentApi.put(url) : agentApi.post(url))
        .set('authorization', `Bearer ${ada.token}`)
        .send(body as object)
        .expect(400);
    };
    assert.match((await post('notes', { text: '   ' })).body.message, /a note must not be empty/);
    assert.match((await post('notes', { text: 'x'.repeat(1001) })).body.message, /at most 1000 characters/);
    assert.match((await post('notes', { notes: ['a'], owner: 'bo' }, 'put')).body.message, /owner/);
    assert.match(
      (await post('notes', { notes: Array.from({ length: 21 }, () => 'a') }, 'put')).body.message,
      /at most 20 notes/,
    );
    assert.match((await post('episodes', { episodes: [] })).body.message, /at least one episode/);
    assert.match(
      (await post('episodes', { episodes: [{ ...episode(1), note: 'x'.repeat(501) }] })).body.message,
      /episodes\.0\.note/,
    );
    assert.match(
      (await post('episodes', { episodes: [{ ...episode(1), intent: { kind: 'say', text: 'x'.repeat(4000) } }] })).body
        .message,
      /at most 4000 characters of JSON/,
    );
    await request(village.url)
      .get(`/api/agents/${ada.id}/memory?episodes=9999`)
      .set('authorization', `Bearer ${ada.token}`)
      .expect(400, /episodes must be at most 500/);
    const memory = await ada.client.memory(ada.id);
    assert.equal(memory.notes.length + memory.episodes.length, 0);
  });
});
