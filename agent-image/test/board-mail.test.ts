// The town board through the loop, against the real control plane (control-plane-process.ts): the
// mail read once a loop with the cursor the server gave, posts, replies and resolves with their real
// outcomes, and the scripted brain answering a person who signed up and replied to its question.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { MailSchema, VillageClient } from '@ai-village/control-plane/contract';
import type { Agent, Post, Reply, User } from '@ai-village/control-plane/contract';
import type { Intent, IntentOutcome } from '../src/brains/brain.js';
import { ScriptedBrain } from '../src/brains/scripted-brain.js';
import { LLM_DEFAULTS, TOOL_DEFAULTS } from '../src/config.js';
import type { AgentConfig } from '../src/config.js';
import { eventually, startControlPlane } from './control-plane-process.js';
import type { ControlPlane } from './control-plane-process.js';
import { RecordingBrain, capturedLog, recordedSleeps, runUntil, samePlace, tappedClient } from './loop-harness.js';
import type { Exchange } from './loop-harness.js';
import { ADA_PERSONA, landmark } from './perceptions.js';

type TestAgent = Agent & { token: string };

function done<K extends Intent['kind']>(outcomes: readonly IntentOutcome[], kind: K) {
  return outcomes.filter(
    (outcome): outcome is Extract<IntentOutcome, { status: 'done' }> =>
      outcome.status === 'done' && outcome.intent.kind === kind,
  );
}

describe('the town board through the loop, against the real control plane', { timeout: 60_000 }, () => {
  let village: ControlPlane;
  let created = 0;

  before(async () => {
    village = await startControlPlane({ tickMs: 100 });
  });
  after(async () => {
    await village?.dispose();
  });

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

  /** A person who signed up (a bearer session, as scripts get), with a client on their token. */
  async function person(handle: string): Promise<{ client: VillageClient; user: User }> {
    const client = new VillageClient({ baseUrl: village.url });
    const session = await client.signUp({
      handle,
      email: `${handle}@example.test`,
      password: 'a long enough password',
      session: 'bearer',
    });
    client.setToken(session.accessToken);
    return { client, user: session.user };
  }

  it('reads its mail once a loop with the cursor it was given, and posts, replies and resolves', async () => {
    const iris = await newAgent('Iris');
    const hanna = await person('hanna');
    const lostCat = await hanna.client.createPost({ title: 'Lost cat', body: 'Grey, answers to Moss.' });
    const config = configFor(iris);
    const timeline: string[] = [];
    const exchanges: Exchange[] = [];
    const mailUrl = `/api/agents/${iris.id}/mail`;

    // Posts a question, answers the first reply and resolves the question, then tries two things the
    // server refuses: a reply to a post that does not exist, and resolving someone else's post.
    let question: Post | undefined;
    let answered = false;
    let refusals = false;
    const brain = new RecordingBrain(({ loop, mail }) => {
      if (loop === 1)
        return [{ kind: 'post', title: 'Which way to the pond?', body: 'Asking for a *friend*.', tags: ['question'] }];
      const replyItem = mail.find((item) => item.reply && item.post.id === question?.id);
      if (replyItem && !answered) {
        answered = true;
        return [
          { kind: 'reply', postId: replyItem.post.id, body: 'Thank you, Hanna!' },
          { kind: 'resolve', postId: replyItem.post.id },
        ];
      }
      if (answered && !refusals) {
        refusals = true;
        return [
          { kind: 'reply', postId: 999_999, body: 'Hello?' },
          { kind: 'resolve', postId: lostCat.id },
        ];
      }
      return [{ kind: 'idle' }];
    });
    const { log, out, err } = capturedLog(iris.id);
    const { sleeps, sleep } = recordedSleeps();
    let humanReply: Reply | undefined;

    const summary = await runUntil(
      config,
      { client: tappedClient(config, timeline, exchanges), brain, log, sleep, random: () => 0.5 },
      {
        what: 'the question, its answer and the refusals',
        timeoutMs: 20_000,
        until: async () => {
          question ??= done(brain.outcomes(), 'post')[0]?.post;
          if (question && !humanReply) {
            humanReply = await hanna.client.reply(question.id, { body: 'Left at the well, then straight on.' });
          }
          const loops = brain.reflected.length;
          const refusedIn = brain.reflected.findIndex((entry) =>
            entry.outcomes.some((outcome) => outcome.status === 'rejected'),
          );
          return refusedIn >= 0 && loops >= refusedIn + 3;
        },
      },
    );
    assert.ok(question && humanReply);

    // One mail request a loop, right after the agent itself; the first without a cursor, each next
    // one with the cursor of the answer before.
    const mail = exchanges.filter((exchange) => exchange.url.startsWith(mailUrl));
    assert.equal(mail.length, summary.loops);
    assert.equal(timeline.filter((entry) => entry === `GET ${mailUrl}`).length, summary.loops);
    assert.equal(mail[0]!.url, mailUrl);
    for (let i = 1; i < mail.length; i++) {
      const given = MailSchema.parse(mail[i - 1]!.body).cursor;
      assert.equal(mail[i]!.url, `${mailUrl}?cursor=${given}`);
    }

    // The reply came in one loop's mail, and only that one's; the agent's own reply never did.
    const seen = brain.decided.flatMap((entry) =>
      entry.perception.mail.map((item) => ({ loop: entry.perception.loop, item })),
    );
    assert.equal(seen.length, 1, JSON.stringify(seen));
    const [{ item }] = seen as [(typeof seen)[number]];
    assert.deepEqual(item.reasons, ['reply']);
    assert.equal(item.post.id, question.id);
    assert.equal(item.reply?.id, humanReply.id);
    assert.deepEqual(item.reply?.author, { type: 'human', id: hanna.user.id, name: hanna.user.displayName });

    // What the server did with each write, and what the brain and the log were told.
    const outcomes = brain.outcomes();
    assert.equal(question.author.id, iris.id);
    assert.deepEqual(question.tags, ['question']);
    const [ownReply] = done(outcomes, 'reply');
    assert.equal(ownReply?.reply?.body, 'Thank you, Hanna!');
    assert.equal(done(outcomes, 'resolve')[0]?.post?.status, 'resolved');
    const thread = await village.admin.post(question.id);
    assert.equal(thread.status, 'resolved');
    assert.deepEqual(
      thread.replies.map((reply) => [reply.author.type, reply.body]),
      [
        ['human', 'Left at the well, then straight on.'],
        ['agent', 'Thank you, Hanna!'],
      ],
    );
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    assert.deepEqual(
      refused.map((outcome) => [outcome.intent.kind, outcome.status === 'rejected' && outcome.httpStatus]),
      [
        ['reply', 404],
        ['resolve', 403],
      ],
    );
    assert.equal((await village.admin.post(lostCat.id)).status, 'open');
    // Refusals are warnings, told to the brain; no back-off, and a 403 about a post ends nothing.
    assert.deepEqual(
      err.map((line) => [line.level, line.phase, line.status, line.intent]),
      [
        ['warn', 'act', 404, 'reply:999999'],
        ['warn', 'act', 403, `resolve:${lostCat.id}`],
      ],
    );
    assert.ok(sleeps.slice(1).every((ms) => ms === 50));
    assert.deepEqual(
      out.filter((line) => line.phase === 'act').map((line) => line.intent),
      ['post', `reply:${question.id}`, `resolve:${question.id}`],
    );
    const notes = summary.memory.filter((episode) => episode.intent.kind !== 'idle').map((episode) => episode.note);
    assert.deepEqual(notes.slice(0, 3), [
      `post #${question.id} open`,
      `reply #${ownReply!.reply!.id}`,
      `post #${question.id} resolved`,
    ]);

    // A new runtime for the same agent (a restart) asks without a cursor: the server resumes after
    // what the last one acknowledged, so nothing is read twice, and new mail still comes.
    const again = new RecordingBrain(() => [{ kind: 'idle' }]);
    const restartExchanges: Exchange[] = [];
    let second: Reply | undefined;
    await runUntil(
      config,
      { client: tappedClient(config, [], restartExchanges), brain: again, log: capturedLog(iris.id).log },
      {
        what: 'the next reply after a restart',
        until: async () => {
          if (again.decided.length >= 2 && !second)
            second = await hanna.client.reply(question!.id, { body: 'Did you find it?' });
          return again.decided.some((entry) => entry.perception.mail.length > 0);
        },
      },
    );
    assert.equal(restartExchanges.find((exchange) => exchange.url.startsWith(mailUrl))?.url, mailUrl);
    const reread = again.decided.flatMap((entry) => entry.perception.mail);
    assert.deepEqual(
      reread.map((mailItem) => mailItem.reply?.id),
      [second!.id],
    );
  });

  it('with the scripted brain: posts from the board, then answers a person and walks where they asked, once', async () => {
    const june = await newAgent('June', ADA_PERSONA);
    const config = configFor(june, { loopMs: 100 });
    // Posting soon, and in the daytime whatever the test village's clock says (tick 0 at 11:00).
    const brain = new ScriptedBrain({
      seed: june.id,
      postEveryLoops: 3,
      clock: { minutesPerTick: 1, minuteAtTickZero: 11 * 60 },
    });
    const { log, out, err } = capturedLog(june.id);
    const controller = new AbortController();
    const cafe = landmark('cafe');
    const states: Agent[] = [];
    const run = runUntil(
      config,
      { brain, log },
      {
        controller,
        what: 'the whole conversation',
        timeoutMs: 40_000,
        until: async () => {
          states.push(await village.admin.agent(june.id));
          return false;
        },
      },
    );

    try {
      // Its post, pinned standing at the board.
      const question = await eventually(
        async () => (await village.admin.posts({ filter: { author: `agent:${june.id}` } })).items.at(-1),
        'June to post on the board',
        20_000,
      );
      assert.equal(question.author.id, june.id);
      assert.ok(question.title.length > 0 && question.tags.length > 0, JSON.stringify(question));
      assert.ok(
        states.some((state) => state.landmark === 'town-board'),
        'posted without going to the board',
      );

      // A person signs up and asks June to go to the café.
      const kim = await person('kim-2');
      const ask = await kim.client.reply(question.id, { body: 'Could you go to the cafe?' });

      // June answers in the thread and walks to the café's entrance.
      const answer = await eventually(
        async () =>
          (await village.admin.post(question.id)).replies.find(
            (reply) => reply.author.type === 'agent' && reply.author.id === june.id,
          ),
        'June to answer in the thread',
        15_000,
      );
      assert.match(answer.body, /Café Aurora/);
      assert.ok(answer.body.includes(kim.user.displayName), answer.body);
      assert.ok(Date.parse(answer.createdAt) >= Date.parse(ask.createdAt));
      await eventually(
        () =>
          states.some(
            (state) =>
              (state.walking && samePlace(state.walking.destination, cafe.entrance)) ||
              samePlace(state.position, cafe.entrance),
          ),
        'June to head for the café',
        15_000,
      );
      await eventually(
        () => states.some((state) => state.landmark === 'cafe' && samePlace(state.position, cafe.entrance)),
        'June to arrive at the café',
        15_000,
      );

      // A while later: still one answer to the one reply.
      await delay(1500);
      const thread = await village.admin.post(question.id);
      assert.equal(
        thread.replies.filter((reply) => reply.author.id === june.id).length,
        1,
        JSON.stringify(thread.replies),
      );
    } finally {
      controller.abort();
      await run.catch(() => undefined);
    }

    assert.deepEqual(err, [], 'errors on a good day');
    const replies = out.filter((line) => line.phase === 'act' && line.intent?.startsWith('reply:'));
    assert.equal(replies.length, 1, JSON.stringify(replies));
    assert.ok(out.some((line) => line.phase === 'act' && line.intent === 'move:cafe'));
  });
});
