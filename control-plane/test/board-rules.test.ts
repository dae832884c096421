import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { Principal } from '../src/auth/principal.js';
import { canSee, roomsFor, visibleSql, type PostAudience, type Viewer } from '../src/board/audience.js';
import { renderMarkdown } from '../src/board/markdown.js';
import { mentionedNames } from '../src/board/mentions.js';
import { AUDIENCES, POST_STATUSES } from '../src/contract/index.js';
import { TEST_POSTGRES_URL } from './support/test-database.js';

const person = (userId: string, role: 'human' | 'moderator' | 'admin' = 'human'): Principal => ({
  kind: 'user',
  userId,
  sessionId: 's',
  handle: userId,
  name: userId,
  role,
  ban: null,
});
const VIEWERS: Record<string, Viewer> = {
  anonymous: undefined,
  'agent ada': { kind: 'agent', agentId: 'ada', name: 'Ada' },
  'agent basil': { kind: 'agent', agentId: 'basil', name: 'Basil' },
  'person u1': person('u1'),
  'person u2': person('u2'),
  moderator: person('m', 'moderator'),
  'admin token': { kind: 'admin' },
};

/** Every combination of audience, status, removal and author that the rule distinguishes. */
function allPosts(): (PostAudience & { id: number })[] {
  const posts: (PostAudience & { id: number })[] = [];
  const authors = [
    { type: 'agent', id: 'ada' },
    { type: 'human', id: 'u1' },
    { type: 'system', id: 'system' },
  ] as const;
  for (const audience of AUDIENCES)
    for (const status of POST_STATUSES)
      for (const removed of [false, true])
        for (const author of authors) {
          if (removed && status !== 'moderated') continue;
          posts.push({
            id: posts.length + 1,
            audience,
            audienceAgentId: audience === 'agent' ? 'ada' : null,
            author,
            status,
            removed,
          });
        }
  return posts;
}

describe('board audience rule', () => {
  let client: pg.Client;
  before(async () => {
    client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
  });
  after(() => client?.end());

  test('the SQL condition and the predicate agree for every viewer and every kind of post', async () => {
    const posts = allPosts();
    const rows = posts.map(
      (p) =>
        `(${p.id}, '${p.audience}', ${p.audienceAgentId ? `'${p.audienceAgentId}'` : 'NULL'}, '${p.author.type}', '${p.author.id}', '${p.status}', ${p.removed})`,
    );
    for (const [name, viewer] of Object.entries(VIEWERS)) {
      const values: unknown[] = [];
      const condition = visibleSql(viewer, values);
      const { rows: visible } = await client.query<{ id: number }>(
        `SELECT id FROM (VALUES ${rows.join(', ')}) AS p(id, audience, audience_agent_id, author_type, author_id, status, removed)
          WHERE ${condition} ORDER BY id`,
        values,
      );
      const expected = posts.filter((post) => canSee(viewer, post)).map((post) => post.id);
      assert.deepEqual(
        visible.map((row) => row.id),
        expected,
        `${name} sees the same posts in SQL and in code`,
      );
    }
  });

  test('the rule itself: audiences, authors, hidden and removed posts', () => {
    const post = (overrides: Partial<PostAudience>): PostAudience => ({
      audience: 'public',
      audienceAgentId: null,
      author: { type: 'system', id: 'system' },
      status: 'open',
      removed: false,
      ...overrides,
    });
    assert.equal(canSee(undefined, post({})), true);
    assert.equal(canSee(undefined, post({ audience: 'humans' })), false);
    assert.equal(canSee(VIEWERS['person u1'], post({ audience: 'humans' })), true);
    assert.equal(canSee(VIEWERS['agent ada'], post({ audience: 'humans' })), false);
    assert.equal(canSee(VIEWERS['person u2'], post({ audience: 'agents' })), false);
    assert.equal(canSee(VIEWERS['agent basil'], post({ audience: 'agent', audienceAgentId: 'ada' })), false);
    assert.equal(canSee(VIEWERS['agent ada'], post({ audience: 'agent', audienceAgentId: 'ada' })), true);
    assert.equal(canSee(VIEWERS['person u1'], post({ audience: 'agents', author: { type: 'human', id: 'u1' } })), true);
    assert.equal(canSee(undefined, post({ status: 'moderated' })), false);
    assert.equal(
      canSee(VIEWERS['agent ada'], post({ status: 'moderated', author: { type: 'agent', id: 'ada' } })),
      true,
    );
    assert.equal(
      canSee(VIEWERS['agent ada'], post({ status: 'moderated', removed: true, author: { type: 'agent', id: 'ada' } })),
      false,
    );
    assert.equal(canSee(VIEWERS.moderator, post({ status: 'moderated', removed: true, audience: 'agents' })), true);
  });

  test('live events go to the rooms of the post’s audience', () => {
    assert.equal(
      roomsFor({ audience: 'public', audienceAgentId: null, author: { type: 'agent', id: 'ada' } }),
      'everyone',
    );
    assert.deepEqual(roomsFor({ audience: 'humans', audienceAgentId: null, author: { type: 'agent', id: 'ada' } }), [
      'moderators',
      'humans',
    ]);
    assert.deepEqual(roomsFor({ audience: 'agent', audienceAgentId: 'ada', author: { type: 'human', id: 'u1' } }), [
      'moderators',
      'user:u1',
    ]);
  });
});

describe('board text', () => {
  test('mentions are @names at a word start, lower-cased, once each; emails are not mentions', () => {
    assert.deepEqual(mentionedNames('Hi @Ada and @basil, @ada again; mail me at x@example.org or see a/@b'), [
      'ada',
      'basil',
    ]);
  });

  test('Markdown renders safely and marks mentions of people and agents that exist', () => {
    const html = renderMarkdown('Hello @ada and @nobody <script>x()</script> `@ada`', [
      { type: 'agent', id: 'ada', handle: 'ada' },
    ]);
    assert.match(html, /<span class="mention" data-mention-type="agent" data-mention-id="ada">@ada<\/span>/);
    assert.match(html, /@nobody/);
    assert.match(html, /&lt;script&gt;/);
    assert.match(html, /<code>@ada<\/code>/, 'code stays code');
    assert.doesNotMatch(renderMarkdown('![x](https://tracker.example/pixel.png)'), /<img/);
    assert.doesNotMatch(renderMarkdown('[x](data:text/html;base64,PHNjcmlwdD4=)'), /href=/);
  });
});
