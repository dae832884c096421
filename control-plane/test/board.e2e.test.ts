import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import request from 'supertest';
import { VillageApiError, VillageClient, type Agent, type Post } from '../src/contract/index.js';
import {
  createTestEnvironment,
  signUpPerson,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { deleteRedisKeys } from './support/test-database.js';
import { TestViewer } from './support/viewer.js';

const ADMIN_EMAIL = 'mayor@village.test';
const ADMIN_PASSWORD = 'mayor-password-123';

/** The board end to end over HTTP: real PostgreSQL, Redis, argon2, JWTs and socket.io. */
describe('town board, people and moderation', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let server: Parameters<typeof request>[0];
  let ada: Agent & { token: string };
  let basil: Agent & { token: string };
  let asAda: VillageClient;
  let asBasil: VillageClient;
  let anonymous: VillageClient;
  let database: pg.Pool;
  let people = 0;

  before(async () => {
    environment = await createTestEnvironment({
      VILLAGE_TICK_MS: '60000',
      VILLAGE_ADMIN_EMAIL: ADMIN_EMAIL,
      VILLAGE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    village = await startTestApp(environment);
    server = village.app.getHttpServer();
    ada = await village.admin.createAgent({ id: 'ada', displayName: 'Ada' });
    basil = await village.admin.createAgent({ id: 'basil', displayName: 'Basil' });
    asAda = new VillageClient({ baseUrl: village.url, token: ada.token });
    asBasil = new VillageClient({ baseUrl: village.url, token: basil.token });
    anonymous = new VillageClient({ baseUrl: village.url });
    database = new pg.Pool({ connectionString: environment.database.url, max: 2 });
  });

  after(async () => {
    await database?.end();
    await village?.close();
    await environment?.dispose();
  });

  const person = (handle = `person${++people}`) => signUpPerson(village.url, handle);

  async function moderator() {
    const mod = await person();
    const admin = new VillageClient({ baseUrl: village.url });
    admin.setToken((await admin.signIn({ login: ADMIN_EMAIL, password: ADMIN_PASSWORD })).accessToken);
    await admin.updateUser(mod.user.id, { role: 'moderator' });
    return mod;
  }

  const count = async (table: string) => Number((await database.query(`SELECT count(*) FROM ${table}`)).rows[0].count);

  async function refused(call: Promise<unknown>, status: number, message: RegExp) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof VillageApiError, String(error));
      assert.equal(error.status, status, error.message);
      assert.match(error.body?.message ?? '', message);
      return true;
    });
  }

  test('an agent posts, a human replies, and the agent reads the reply exactly once', async () => {
    const question = await asAda.createPost({
      title: 'Where is the best place to watch the sunset?',
      body: 'I have been **wondering**.',
      tags: ['question', 'sunset'],
    });
    assert.equal(question.author.type, 'agent');
    assert.equal(question.author.name, 'Ada');
    assert.match(question.bodyHtml, /<strong>wondering<\/strong>/);

    const { client: human, user } = await person('hana');
    const reply = await human.reply(question.id, { body: 'The mill pond, @ada! Go there at dusk.' });
    assert.deepEqual(reply.mentions, [{ type: 'agent', id: 'ada', handle: 'ada' }]);

    const first = await asAda.mail('ada');
    const mine = first.items.filter((item) => item.reply?.id === reply.id);
    assert.equal(mine.length, 1, 'the reply arrives once, even though it is both a reply and a mention');
    assert.deepEqual(mine[0]!.reasons.sort(), ['mention', 'reply']);
    assert.equal(mine[0]!.reply!.author.id, user.id);
    assert.equal(mine[0]!.post.id, question.id);

    const next = await asAda.mail('ada', { cursor: first.cursor });
    assert.deepEqual(next.items, [], 'nothing is read twice');
    // A restarted agent without its cursor resumes after what it acknowledged.
    assert.deepEqual((await asAda.mail('ada')).items, []);
    // Its own words never land in its mail, and another agent's mail is not its business.
    await asAda.reply(question.id, { body: 'Thank you! I will go.' });
    assert.deepEqual((await asAda.mail('ada', { cursor: next.cursor })).items, []);
    await refused(asBasil.mail('ada'), 403, /only as itself/);
    // A made-up cursor would skip mail for good: refused, and nothing acknowledged.
    await refused(asAda.mail('ada', { cursor: '999999999' }), 400, /beyond the board/);
    await refused(asAda.mail('ada', { cursor: 'abc' }), 400, /cursor/);
  });

  test('a post or reply whose answer was lost is not written twice by the retry', async () => {
    const send = (path: string, key: string, body: object) =>
      request(server).post(path).set('authorization', `Bearer ${ada.token}`).set('idempotency-key', key).send(body);
    const first = await send('/api/posts', 'lost-answer-post-1', { title: 'Once only', body: 'one post' }).expect(201);
    const reply = await send(`/api/posts/${first.body.id}/replies`, 'lost-answer-reply-1', {
      body: 'one reply',
    }).expect(201);
    // The first answers never reached the client, and their Redis records are gone: the commit went
    // through, the connection dropped, the failed request freed its key (what the fault suite provokes).
    await deleteRedisKeys(`${environment.redisPrefix}idempotency:`);
    const postAgain = await send('/api/posts', 'lost-answer-post-1', { title: 'Once only', body: 'one post' }).expect(
      201,
    );
    assert.equal(postAgain.body.id, first.body.id, 'the retry finds the first post');
    const replyAgain = await send(`/api/posts/${first.body.id}/replies`, 'lost-answer-reply-1', {
      body: 'one reply',
    }).expect(201);
    assert.equal(replyAgain.body.id, reply.body.id, 'the retry finds the first reply');
    const { rows } = await database.query<{ posts: number; replies: number }>(
      `SELECT (SELECT count(*)::int FROM posts WHERE title = 'Once only') AS posts,
              (SELECT count(*)::int FROM replies WHERE post_id = $1) AS replies`,
      [first.body.id],
    );
    assert.deepEqual(rows[0], { posts: 1, replies: 1 });
    // The same key on another post is another reply.
    const other = await send('/api/posts', 'lost-answer-post-2', { title: 'Another', body: 'x' }).expect(201);
    await send(`/api/posts/${other.body.id}/replies`, 'lost-answer-reply-1', { body: 'one reply' }).expect(201);
  });

  test('mail holds posts addressed to the agent and mentions, in order, paged', async () => {
    const { client: human } = await person();
    const start = (await asBasil.mail('basil')).cursor;
    const addressed = await human.createPost({ title: 'For Basil only', audience: 'agent', audienceAgentId: 'basil' });
    const mention = await human.createPost({ title: 'Has anyone seen @basil today?' });
    await human.createPost({ title: 'Nothing for basil here (no at-sign)' });
    const page = await asBasil.mail('basil', { cursor: start, limit: 1 });
    assert.equal(page.items.length, 1);
    assert.equal(page.more, true);
    assert.equal(page.items[0]!.post.id, addressed.id);
    assert.deepEqual(page.items[0]!.reasons, ['addressed']);
    const rest = await asBasil.mail('basil', { cursor: page.cursor });
    assert.deepEqual(
      rest.items.map((item) => [item.post.id, item.reasons]),
      [[mention.id, ['mention']]],
    );
    assert.equal(rest.more, false);
  });

  test('who can see a post follows its audience', async () => {
    const { client: author } = await person();
    const { client: reader } = await person();
    const mod = await moderator();
    const posts: Record<string, Post> = {
      public: await author.createPost({ title: 'audience test: public' }),
      humans: await author.createPost({ title: 'audience test: humans', audience: 'humans' }),
      agents: await author.createPost({ title: 'audience test: agents', audience: 'agents' }),
      ada: await author.createPost({ title: 'audience test: ada', audience: 'agent', audienceAgentId: 'ada' }),
    };
    const visible = async (client: VillageClient) => {
      const { items } = await client.posts({ filter: { q: 'audience test' }, range: [0, 50] });
      return items.map((post) => post.title.replace('audience test: ', '')).sort();
    };
    assert.deepEqual(await visible(anonymous), ['public']);
    assert.deepEqual(await visible(reader), ['humans', 'public']);
    assert.deepEqual(await visible(asAda), ['ada', 'agents', 'public']);
    assert.deepEqual(await visible(asBasil), ['agents', 'public']);
    assert.deepEqual(await visible(author), ['ada', 'agents', 'humans', 'public'], 'authors see their own posts');
    assert.deepEqual(await visible(mod.client), ['ada', 'agents', 'humans', 'public']);
    // Reading one post follows the same rule, and a refusal does not tell whether it exists.
    await refused(anonymous.post(posts.humans!.id), 404, /no post/);
    await refused(asBasil.post(posts.ada!.id), 404, /no post/);
    assert.equal((await asAda.post(posts.ada!.id)).id, posts.ada!.id);
    await refused(asBasil.reply(posts.ada!.id, { body: 'me too' }), 404, /no post/);
  });

  test('search, filters and ra-data-simple-rest conventions', async () => {
    const { client: human, user } = await person();
    await asBasil.createPost({
      title: 'Bread recipes for the market',
      body: 'Sourdough loaves and rye',
      tags: ['baking'],
    });
    await asBasil.createPost({ title: 'Lost umbrella', body: 'A red umbrella near the library', tags: ['lost'] });
    const byHuman = await human.createPost({
      title: 'Baking contest',
      body: 'Who bakes the best loaf? @basil',
      tags: ['baking', 'contest'],
    });

    const search = await anonymous.posts({ filter: { q: 'loaf OR sourdough' } });
    assert.deepEqual(search.items.map((p) => p.title).sort(), ['Baking contest', 'Bread recipes for the market']);
    assert.deepEqual(
      (await anonymous.posts({ filter: { tag: 'lost' } })).items.map((p) => p.title),
      ['Lost umbrella'],
    );
    assert.deepEqual(
      (await anonymous.posts({ filter: { author: `human:${user.id}` } })).items.map((p) => p.id),
      [byHuman.id],
    );
    assert.deepEqual(
      (await anonymous.posts({ filter: { mentions: 'agent:basil', tag: 'contest' } })).items.map((p) => p.id),
      [byHuman.id],
    );

    const response = await request(server)
      .get('/api/posts')
      .query({
        sort: JSON.stringify(['createdAt', 'ASC']),
        range: JSON.stringify([0, 1]),
        filter: JSON.stringify({ tag: 'baking' }),
      })
      .expect(200);
    assert.equal(response.headers['content-range'], 'posts 0-1/2');
    assert.equal(response.body[0].title, 'Bread recipes for the market');

    await request(server)
      .get('/api/posts')
      .query({ filter: JSON.stringify({ status: 'bogus' }) })
      .expect(400);
    await request(server)
      .get('/api/posts')
      .query({ filter: JSON.stringify({ colour: 'red' }) })
      .expect(400);
    await request(server).get('/api/posts/abc').expect(400);
    // Which posts are flagged is moderators' business.
    await request(server)
      .get('/api/posts')
      .query({ filter: JSON.stringify({ flagged: true }) })
      .expect(403);
  });

  test('past 1,000 matches the total is an estimate and search is newest first', async () => {
    // 1,200 posts about lanterns, one of which says it four times (the most relevant, but the oldest).
    await database.query(
      `INSERT INTO posts (author_type, author_id, author_name, audience, title, body, body_html, created_at, last_activity_at)
       SELECT 'agent', 'basil', 'Basil', 'public', 'Lantern ' || i,
              CASE WHEN i = 1 THEN 'lantern lantern lantern lantern' ELSE 'a lantern by the well' END, '',
              now() - (2000 - i) * interval '1 second', now() - (2000 - i) * interval '1 second'
         FROM generate_series(1, 1200) i`,
    );
    await database.query('ANALYZE posts');
    const response = await request(server)
      .get('/api/posts')
      .query({ range: JSON.stringify([0, 2]), filter: JSON.stringify({ q: 'lantern' }) })
      .expect(200);
    const total = Number(/\/(\d+)$/.exec(response.headers['content-range'] as string)![1]);
    assert.ok(total > 1000, `an estimate above the exact limit, not ${total}`);
    assert.deepEqual(
      response.body.map((post: Post) => post.title),
      ['Lantern 1200', 'Lantern 1199', 'Lantern 1198'],
    );
    // At most 1,000 matches: the exact total, and the most relevant first.
    await database.query(`DELETE FROM posts WHERE title LIKE 'Lantern %' AND substr(title, 9)::int BETWEEN 2 AND 301`);
    const ranked = await request(server)
      .get('/api/posts')
      .query({ range: JSON.stringify([0, 0]), filter: JSON.stringify({ q: 'lantern' }) })
      .expect(200);
    assert.equal(ranked.headers['content-range'], 'posts 0-0/900');
    assert.equal(ranked.body[0].title, 'Lantern 1');
    await database.query(`DELETE FROM posts WHERE title LIKE 'Lantern %'`);
  });

  test('bad input is refused with a message and stores nothing', async () => {
    const { client: human } = await person();
    const postsBefore = await count('posts');
    const auditBefore = await count('audit_log');
    await refused(human.createPost({ title: 'x', body: 'y'.repeat(20_001) }), 400, /body: at most 20000/);
    await refused(human.createPost({ title: 'x', audience: 'everyone' as never }), 400, /audience/);
    await refused(human.createPost({ title: 'x', audience: 'agent' }), 400, /audienceAgentId/);
    await refused(
      human.createPost({ title: 'x', audience: 'agent', audienceAgentId: 'nobody' }),
      400,
      /no agent "nobody"/,
    );
    await refused(human.createPost({ title: '' }), 400, /title/);
    await refused(human.createPost({ title: 'x', tags: ['Not A Tag!'] }), 400, /tags/);
    await refused(anonymous.createPost({ title: 'x' }), 401, /bearer token/);
    const theirs = await asAda.createPost({ title: 'Ada’s own post' });
    await refused(human.updatePost(theirs.id, { title: 'mine now' }), 403, /only its author/);
    await refused(human.updatePost(theirs.id, { status: 'moderated' as never }), 400, /status/);
    assert.equal(await count('posts'), postsBefore + 1);
    assert.equal(await count('audit_log'), auditBefore + 1, 'only the one good post is audited');
    assert.equal((await anonymous.post(theirs.id)).title, 'Ada’s own post');
  });

  test('Markdown is rendered inert: scripts, raw HTML and javascript: links do nothing', async () => {
    const post = await asAda.createPost({
      title: '<img src=x onerror=alert(1)>',
      body: '<script>alert("pwned")</script>\n\n[click](javascript:alert(1)) and <b onclick="x()">bold</b> https://example.org',
    });
    assert.doesNotMatch(post.bodyHtml, /<script|<b\s|onclick="|href="javascript/i);
    assert.match(post.bodyHtml, /&lt;script&gt;alert\(&quot;pwned&quot;\)&lt;\/script&gt;/);
    assert.match(
      post.bodyHtml,
      /<a href="https:\/\/example.org" rel="nofollow ugc noopener noreferrer" target="_blank">/,
    );
    assert.equal(post.title, '<img src=x onerror=alert(1)>', 'titles are plain text, escaped by whoever shows them');
  });

  test('people: cookie sessions, refresh rotation, theft detection and sign-out', async () => {
    const signUp = await request(server)
      .post('/api/auth/sign-up')
      .send({ handle: 'cookie-person', email: 'Cookie@Village.Test', password: 'a long enough password' })
      .expect(201);
    assert.equal(signUp.body.refreshToken, undefined, 'a browser never sees its refresh token');
    assert.equal(signUp.body.user.handle, 'cookie-person');
    const cookie = signUp.headers['set-cookie']![0]!;
    assert.match(cookie, /^village_refresh=vrt_[\w-]+;/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\/api\/auth/);
    const firstCookie = cookie.split(';')[0]!;
    const access = signUp.body.accessToken as string;
    const me = await request(server).get('/api/auth/me').set('authorization', `Bearer ${access}`).expect(200);
    assert.equal(me.body.handle, 'cookie-person');
    assert.equal(me.body.email, undefined);

    const refreshed = await request(server).post('/api/auth/refresh').set('cookie', firstCookie).send({}).expect(200);
    const secondCookie = refreshed.headers['set-cookie']![0]!.split(';')[0]!;
    assert.notEqual(secondCookie, firstCookie, 'the refresh token rotates');
    // Two tabs racing: the just-replaced token is refused without ending the session.
    await request(server).post('/api/auth/refresh').set('cookie', firstCookie).send({}).expect(409);
    await request(server).post('/api/auth/refresh').set('cookie', secondCookie).send({}).expect(200);

    // Signing in by email works case-insensitively; a wrong password says nothing about which part was wrong.
    await request(server)
      .post('/api/auth/sign-in')
      .send({ login: 'cookie@village.test', password: 'nope nope nope' })
      .expect(401);
    const signIn = await request(server)
      .post('/api/auth/sign-in')
      .send({ login: 'COOKIE@village.test', password: 'a long enough password', session: 'bearer' })
      .expect(200);
    const script = new VillageClient({ baseUrl: village.url, token: signIn.body.accessToken });
    assert.equal((await script.me()).handle, 'cookie-person');
    // A browser refreshes with no body at all: the cookie is enough.
    await request(server).post('/api/auth/refresh').set('cookie', secondCookie).expect(409);
    await script.signOut(signIn.body.refreshToken);
    await refused(script.me(), 401, /not valid/);
    await refused(script.refresh(signIn.body.refreshToken), 401, /session has ended/);
  });

  test('a stolen refresh token used after its rotation ends the session', async () => {
    const { client, session } = await person();
    const stolen = session.refreshToken!;
    const rotated = await client.refresh(stolen);
    await database.query(`UPDATE user_sessions SET rotated_at = now() - interval '1 minute'`);
    await refused(client.refresh(stolen), 401, /already used/);
    await refused(client.refresh(rotated.refreshToken), 401, /session has ended/);
    client.setToken(rotated.accessToken);
    await refused(client.me(), 401, /not valid/);
  });

  test('sign-up refuses weak passwords, taken handles and agents’ names', async () => {
    const signUp = (body: Record<string, unknown>) =>
      anonymous.signUp({ handle: 'newbie', email: 'newbie@village.test', password: 'long enough pass', ...body });
    await refused(signUp({ password: 'short' }), 400, /password: must be at least 10/);
    await refused(signUp({ email: 'not-an-email' }), 400, /email/);
    await refused(signUp({ handle: 'ada' }), 409, /taken/);
    await refused(signUp({ handle: 'x' }), 400, /handle/);
    await signUp({});
    await refused(signUp({ handle: 'NEWBIE', email: 'other@village.test' }), 409, /taken/);
    await refused(signUp({ handle: 'other' }), 409, /email already exists/);
    await refused(village.admin.createAgent({ id: 'newbie', displayName: 'Newbie' }), 409, /taken/);
  });

  test('the first admin comes from configuration; roles and bans are admin and moderator work', async () => {
    const admin = new VillageClient({ baseUrl: village.url });
    const session = await admin.signIn({ login: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    assert.equal(session.user.role, 'admin');
    admin.setToken(session.accessToken);
    const mod = await moderator();
    const { client: troll, user: trollUser } = await person();
    const { client: human, user: humanUser } = await person();
    await refused(human.ban(trollUser.id, { reason: 'no' }), 403, /moderator/);
    await refused(mod.client.updateUser(humanUser.id, { role: 'admin' }), 403, /admin/);
    await refused(mod.client.ban(session.user.id, { reason: 'coup' }), 403, /cannot ban someone whose role is admin/);

    const post = await troll.createPost({ title: 'Spam spam spam' });
    const banned = await mod.client.ban(trollUser.id, { reason: 'spam' });
    assert.equal(banned.ban?.reason, 'spam');
    const postsBefore = await count('posts');
    await refused(troll.createPost({ title: 'more spam' }), 403, /banned: spam/);
    await refused(troll.reply(post.id, { body: 'more spam' }), 403, /banned: spam/);
    await refused(troll.signIn({ login: trollUser.handle, password: 'correct horse battery' }), 403, /banned/);
    assert.equal(await count('posts'), postsBefore);

    await mod.client.unban(trollUser.id);
    await troll.reply(post.id, { body: 'sorry' });
    const audit = await mod.client.audit({ filter: { subjectType: 'user', subjectId: trollUser.id } });
    assert.deepEqual(
      audit.items.map((entry) => entry.action),
      ['user.unbanned', 'user.banned', 'user.signed_up'],
    );
    const users = await mod.client.users({ filter: { q: trollUser.handle } });
    assert.equal(users.items[0]?.email, `${trollUser.handle}@village.test`);
  });

  test('flags, the flag queue, moderation acts and the audit log', async () => {
    const mod = await moderator();
    const { client: human, user } = await person();
    const post = await asAda.createPost({ title: 'Buy my magic beans', body: 'Cheap!' });
    const reply = await asBasil.reply(post.id, { body: 'Rude words here' });

    const flag = await human.flagPost(post.id, 'looks like a scam');
    await refused(human.flagPost(post.id, 'again'), 409, /already flagged/);
    await refused(asBasil.flagPost(post.id, 'agents do not flag'), 403, /signed-in people/);
    const replyFlag = await human.flagReply(reply.id, 'rude');
    const queue = await mod.client.flags({ filter: { status: 'open', postId: post.id } });
    assert.deepEqual(queue.items.map((f) => f.id).sort(), [flag.id, replyFlag.id].sort());
    assert.equal(queue.items.find((f) => f.id === flag.id)!.flaggedBy.id, user.id);
    assert.equal((await mod.client.post(post.id)).flagCount, 1);
    assert.equal((await human.post(post.id)).flagCount, 0, 'flag counts are for moderators');
    await refused(human.flags(), 403, /moderator/);

    await mod.client.moderateReply(reply.id, { action: 'hide', reason: 'rude' });
    const thread = await human.post(post.id);
    assert.deepEqual(thread.replies, [], 'a hidden reply is gone for readers');
    assert.equal(thread.replyCount, 0);
    assert.equal((await mod.client.post(post.id)).replies[0]!.status, 'hidden');

    const locked = await mod.client.moderatePost(post.id, { action: 'lock', reason: 'heated' });
    assert.equal(locked.locked, true);
    await refused(asAda.reply(post.id, { body: 'but wait' }), 409, /locked/);
    await refused(asAda.updatePost(post.id, { title: 'edited' }), 409, /locked/);
    const hidden = await mod.client.moderatePost(post.id, { action: 'hide', reason: 'scam' });
    assert.equal(hidden.status, 'moderated');
    await refused(human.post(post.id), 404, /no post/);
    await refused(human.reply(post.id, { body: 'hello?' }), 404, /no post/);
    assert.equal((await asAda.post(post.id)).status, 'moderated', 'the author still sees it, marked');
    await refused(mod.client.moderatePost(post.id, { action: 'hide', reason: 'again' }), 409, /already hidden/);
    await refused(mod.client.moderatePost(post.id, { action: 'explode', reason: 'x' } as never), 400, /action/);
    await refused(mod.client.moderatePost(post.id, { action: 'hide', reason: '' }), 400, /reason/);

    const settled = await mod.client.flags({ filter: { postId: post.id } });
    assert.deepEqual(
      settled.items.map((f) => f.status),
      ['resolved', 'resolved'],
    );
    assert.match(settled.items.find((f) => f.replyId === null)!.resolution ?? '', /lock: heated/);
    assert.match(settled.items.find((f) => f.replyId !== null)!.resolution ?? '', /hide: rude/);

    const unhidden = await mod.client.moderatePost(post.id, { action: 'unhide', reason: 'appeal' });
    assert.equal(unhidden.status, 'open');
    const removed = await mod.client.moderatePost(post.id, { action: 'remove', reason: 'scam after all' });
    assert.equal(removed.title, '[removed]');
    await refused(asAda.post(post.id), 404, /no post/);
    await refused(mod.client.moderatePost(post.id, { action: 'unhide', reason: 'x' }), 409, /removed/);

    const audit = await mod.client.audit({
      filter: { subjectType: 'post', subjectId: String(post.id) },
      sort: ['id', 'ASC'],
    });
    assert.deepEqual(
      audit.items.map((entry) => entry.action),
      ['post.created', 'post.flagged', 'post.lock', 'post.hide', 'post.unhide', 'post.remove'],
    );
    const removal = audit.items.at(-1)!;
    assert.equal((removal.before as Post).title, 'Buy my magic beans', 'the audit log keeps what was removed');
    assert.equal((removal.after as Post).title, '[removed]');
    assert.equal(removal.reason, 'scam after all');
    assert.equal(removal.actor.id, mod.user.id);
    await refused(anonymous.audit(), 401, /bearer/);

    // Append-only, even for the database owner.
    await assert.rejects(database.query('UPDATE audit_log SET reason = $1', ['rewritten']), /append-only/);
    await assert.rejects(database.query('DELETE FROM audit_log'), /append-only/);
    await assert.rejects(database.query('TRUNCATE audit_log'), /append-only/);
  });

  test('new posts, replies and moderation reach viewers live, by audience', async () => {
    const { client: human, session } = await person();
    const mod = await moderator();
    const watcher = new TestViewer(village.url);
    const signedIn = new TestViewer(village.url, session.accessToken);
    const moderating = new TestViewer(village.url, mod.session.accessToken);
    try {
      await Promise.all([watcher.ready(), signedIn.ready(), moderating.ready()]);
      const forHumans = await asAda.createPost({ title: 'Only for humans', audience: 'humans' });
      const open = await asAda.createPost({ title: 'Open to all' });
      await watcher.waitFor('post.created', (e) => e.post.id === open.id);
      await signedIn.waitFor('post.created', (e) => e.post.id === forHumans.id);
      const reply = await human.reply(open.id, { body: 'Hello Ada' });
      const seen = await watcher.waitFor('reply.created', (e) => e.reply.id === reply.id);
      assert.equal(seen.post.id, open.id);
      const flag = await human.flagPost(open.id, 'testing flags');
      await moderating.waitFor('flag.created', (e) => e.flag.id === flag.id);
      await mod.client.moderatePost(open.id, { action: 'hide', reason: 'test' });
      const moderated = await watcher.waitFor('post.moderated', (e) => e.post.id === open.id);
      assert.equal(moderated.action, 'hide');
      assert.equal(moderated.post.title, '', 'a hidden post’s text does not travel');
      assert.ok(!watcher.events.some((e) => e.type === 'post.created' && e.post.id === forHumans.id));
      assert.ok(!watcher.events.some((e) => e.type === 'flag.created'));
      assert.ok(!signedIn.events.some((e) => e.type === 'flag.created'));
    } finally {
      watcher.close();
      signedIn.close();
      moderating.close();
    }
  });
});

describe('sign-in rate limits are shared by replicas', () => {
  let environment: TestEnvironment;
  let replicas: TestApp[] = [];

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_SIGN_IN_LIMIT: '3', VILLAGE_SIGN_UP_LIMIT: '2' });
    replicas = [await startTestApp(environment), await startTestApp(environment)];
  });

  after(async () => {
    for (const replica of replicas) await replica.close();
    await environment?.dispose();
  });

  test('attempts on two replicas count together; the answer says when to come back', async () => {
    const one = replicas[0]!.app.getHttpServer();
    const two = replicas[1]!.app.getHttpServer();
    const attempt = (server: typeof one) =>
      request(server).post('/api/auth/sign-in').send({ login: 'nobody', password: 'wrong password' });
    assert.equal((await attempt(one)).status, 401);
    assert.equal((await attempt(two)).status, 401);
    assert.equal((await attempt(one)).status, 401);
    const limited = await attempt(two);
    assert.equal(limited.status, 429);
    assert.match(limited.body.message, /too many sign-in attempts/);
    assert.ok(Number(limited.headers['retry-after']) > 0);

    const signUp = (server: typeof one, n: number) =>
      request(server)
        .post('/api/auth/sign-up')
        .send({ handle: `rl${n}`, email: `rl${n}@x.test`, password: 'long enough pass' });
    assert.equal((await signUp(one, 1)).status, 201);
    assert.equal((await signUp(two, 2)).status, 201);
    assert.equal((await signUp(one, 3)).status, 429);
  });
});
