import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreatePostRequestSchema, CreateReplyRequestSchema } from '@ai-village/control-plane/contract';
import type { AgentDetails, MailItem, Post } from '@ai-village/control-plane/contract';
import type { Intent, IntentOutcome, Perception } from '../src/brains/brain.js';
import { BoardHabit } from '../src/brains/board-habit.js';
import { landmarkNamedIn } from '../src/brains/landmark-mentions.js';
import { createPrng } from '../src/brains/prng.js';
import { ScriptedBrain } from '../src/brains/scripted-brain.js';
import { dayPart } from '../src/brains/village-time.js';
import {
  ADA_PERSONA,
  AGENT_ADA,
  AGENT_BRUNO,
  HUMAN,
  LANDMARKS,
  agentAt,
  landmark,
  mailItem,
  neighbours,
  post,
  reply,
  worldOf,
} from './perceptions.js';
import { A_DAY_AND_A_BIT, arrivals, movesIn, newDay, saysIn, simulate } from './simulated-day.js';
import type { LoopRecord } from './simulated-day.js';

// The scripted brain on the town board, on hand-built perceptions and mail (the shapes are the
// contract's own schemas); board-mail.test.ts runs the same against the real control plane.

/** 12:00 on the first day: daytime, when the brain posts. */
const NOON = 4 * 60;
/** A brain that never posts by itself, for the mail tests. */
const NEVER = 1_000_000;

function boardIn(record: LoopRecord): Intent[] {
  return record.intents.filter(
    (intent) => intent.kind === 'post' || intent.kind === 'reply' || intent.kind === 'resolve',
  );
}

function postsIn(records: LoopRecord[]): { record: LoopRecord; intent: Extract<Intent, { kind: 'post' }> }[] {
  return records.flatMap((record) =>
    record.intents.flatMap((intent) => (intent.kind === 'post' ? [{ record, intent }] : [])),
  );
}

/** Ada at noon, standing on the town square, and a brain that will not post by itself. */
function settledAda(seed = 'ada') {
  const brain = new ScriptedBrain({ seed, postEveryLoops: NEVER });
  const day = newDay({ tick: NOON });
  simulate(brain, day, 2);
  return { brain, day };
}

/** One loop with this mail (the day goes on as in the simulation). */
function withMail(brain: ScriptedBrain, day: ReturnType<typeof newDay>, ...mail: MailItem[]): LoopRecord {
  day.mail.push(...mail);
  return simulate(brain, day, 1)[0]!;
}

/** A question Ada pinned. */
const adasQuestion = (id: number, fields: Partial<Post> = {}) => post({ id, author: AGENT_ADA, ...fields });

describe('scripted brain on the town board', () => {
  it('now and then walks to the town board in the daytime and pins a question there', () => {
    const run = () => simulate(new ScriptedBrain({ seed: 'ada', postEveryLoops: 20 }), newDay(), A_DAY_AND_A_BIT, 5);
    const records = run();
    const posts = postsIn(records);
    assert.ok(posts.length >= 2, `${posts.length} posts in a day`);
    let since = 0;
    for (const { record, intent } of posts) {
      const { self } = record.perception;
      assert.equal(self.landmark, 'town-board', `posted away from the board (loop ${record.loop})`);
      assert.equal(self.walking, null);
      assert.equal(dayPart(record.minute), 'day', `posted at ${record.minute}`);
      // It went there for the purpose (or was there already).
      const before = records.slice(since, record.loop - 1);
      assert.ok(
        before.some((earlier) => movesIn(earlier).includes('town-board')) ||
          before.every((earlier) => earlier.perception.self.landmark === 'town-board'),
        `no walk to the board before loop ${record.loop}`,
      );
      since = record.loop;
      // Pinned with a word, and the post is one the API takes.
      assert.ok(saysIn(record).length === 1, JSON.stringify(record.intents));
      const checked = CreatePostRequestSchema.parse({ title: intent.title, body: intent.body, tags: intent.tags });
      assert.ok(checked.tags.length > 0 && intent.title.length <= 200 && intent.body.length > 0);
    }
    const titles = posts.map((entry) => entry.intent.title);
    for (let i = 1; i < titles.length; i++)
      assert.notEqual(titles[i], titles[i - 1], 'the same question twice in a row');
    assert.ok(
      titles.some((title) => title.includes('puzzles and strong tea')) ||
        posts.some((entry) => entry.intent.body.includes('puzzles and strong tea')) ||
        titles.some((title) => title.endsWith('?')),
    );
    // Deterministic for a seed; and the walks never overlap a move while walking.
    assert.deepEqual(
      run().map((record) => record.intents),
      records.map((record) => record.intents),
    );
    for (const record of records) if (record.perception.self.walking) assert.deepEqual(movesIn(record), []);
  });

  it('is not chatty: a few posts a village day by default, fewer still while nobody answers', () => {
    for (const seed of ['ada', 'bruno', 'cleo']) {
      const records = simulate(new ScriptedBrain({ seed }), newDay(), A_DAY_AND_A_BIT, 2);
      const posts = postsIn(records).length;
      assert.ok(posts <= 3, `${seed}: ${posts} posts in ${records.length} loops`);
    }
  });

  it('answers a human who names a place in its thread, walks there, and says so on arrival', () => {
    const { brain, day } = settledAda();
    const question = adasQuestion(7);
    const asked = mailItem(
      ['reply'],
      question,
      reply({ id: 70, postId: 7, author: HUMAN, body: 'Could you go to the cafe, please?' }),
    );
    const record = withMail(brain, day, asked);

    assert.deepEqual(
      record.intents.map((intent) => intent.kind),
      ['reply', 'move'],
    );
    const [answer, move] = record.intents;
    assert.ok(answer?.kind === 'reply' && answer.postId === 7, JSON.stringify(answer));
    assert.match(answer.body, /Café Aurora/);
    assert.match(answer.body, /Hanna/);
    CreateReplyRequestSchema.parse({ body: answer.body });
    assert.deepEqual(move, { kind: 'move', to: { landmark: 'cafe' } });

    // The same item again (a restarted runtime re-reads the last loop's mail): no second answer.
    const after = [withMail(brain, day, asked), ...simulate(brain, day, 12, 5)];
    assert.deepEqual(after.flatMap(boardIn), []);
    const arrived = arrivals([record, ...after]);
    assert.equal(arrived[0]?.landmark, 'cafe', JSON.stringify(arrived));
    const there = after.find((entry) => entry.loop === arrived[0]!.loop)!;
    assert.ok(
      saysIn(there).some((text) => text.includes('Hanna') && text.includes('Café Aurora')),
      JSON.stringify(there.intents),
    );
  });

  it('goes where a post addressed to it asks, and answers mentions where it already is', () => {
    const { brain, day } = settledAda();
    const invitation = post({
      id: 11,
      author: HUMAN,
      audience: 'agent',
      audienceAgentId: 'ada',
      title: 'An invitation',
      body: 'Meet me at the market when you can!',
    });
    const record = withMail(brain, day, mailItem(['addressed'], invitation));
    assert.deepEqual(
      record.intents.map((intent) => intent.kind),
      ['reply', 'move'],
    );
    assert.equal(record.intents[0]!.kind === 'reply' && record.intents[0]!.postId, 11);
    assert.deepEqual(record.intents[1], { kind: 'move', to: { landmark: 'market' } });

    // At the market, a mention asking it to the market: an answer, and no move.
    const atMarket = settledAda('ada-2');
    atMarket.day.self = agentAt('market', { id: 'ada', displayName: 'Ada', persona: ADA_PERSONA });
    const elsewhere = post({ id: 12, author: HUMAN, title: 'Market day' });
    const mention = reply({ id: 120, postId: 12, author: HUMAN, body: '@ada are you at the Riverside Market?' });
    const answered = withMail(atMarket.brain, atMarket.day, mailItem(['mention'], elsewhere, mention));
    const board = boardIn(answered);
    assert.equal(board.length, 1);
    assert.ok(board[0]!.kind === 'reply' && board[0]!.postId === 12 && board[0]!.body.includes('Riverside Market'));
    assert.ok(!movesIn(answered).includes('market'));
  });

  it('thanks a human who answers its question without naming a place, and resolves the question once', () => {
    const { brain, day } = settledAda();
    const record = withMail(
      brain,
      day,
      mailItem(
        ['reply'],
        adasQuestion(8),
        reply({ id: 80, postId: 8, author: HUMAN, body: 'The hill behind the mill, at dusk.' }),
      ),
    );
    const board = boardIn(record);
    assert.deepEqual(
      board.map((intent) => intent.kind),
      ['reply', 'resolve'],
    );
    assert.ok(board[0]!.kind === 'reply' && board[0]!.postId === 8 && board[0]!.body.includes('Hanna'));
    assert.deepEqual(board[1], { kind: 'resolve', postId: 8 });

    // Another answer in the same thread: thanks again, but it is resolved already.
    const again = withMail(
      brain,
      day,
      mailItem(
        ['reply'],
        adasQuestion(8, { status: 'resolved' }),
        reply({ id: 81, postId: 8, author: HUMAN, body: 'Or the jetty!' }),
      ),
    );
    assert.deepEqual(
      boardIn(again).map((intent) => intent.kind),
      ['reply'],
    );
  });

  it('answers another agent once per thread, never itself, and nothing it could not reply to', () => {
    const { brain, day } = settledAda();
    const question = adasQuestion(9);
    const fromBruno = (id: number) =>
      mailItem(['reply'], question, reply({ id, postId: 9, author: AGENT_BRUNO, body: 'Try the cafe, Ada!' }));
    const first = withMail(brain, day, fromBruno(90));
    const board = boardIn(first);
    assert.equal(board.length, 1);
    assert.ok(board[0]!.kind === 'reply' && board[0]!.body.includes('Bruno'));
    assert.deepEqual(movesIn(first), [], 'an agent sent it walking');

    const quiet = [
      // Bruno again in the same thread.
      fromBruno(91),
      // Its own words (the server never sends them; the brain would not answer them anyway).
      mailItem(['mention'], question, reply({ id: 92, postId: 9, author: AGENT_ADA, body: 'Me again, @ada.' })),
      // A locked thread, a hidden reply, a closed post, the system.
      mailItem(
        ['reply'],
        adasQuestion(10, { locked: true }),
        reply({ id: 100, postId: 10, author: HUMAN, body: 'Hi' }),
      ),
      mailItem(
        ['reply'],
        adasQuestion(13),
        reply({ id: 130, postId: 13, author: HUMAN, body: 'Go to the park', status: 'hidden' }),
      ),
      mailItem(
        ['addressed'],
        post({ id: 14, author: HUMAN, status: 'closed', audience: 'agent', audienceAgentId: 'ada' }),
      ),
      mailItem(['addressed'], post({ id: 15, author: { type: 'system', id: 'system', name: 'Village' } })),
    ];
    const records = [withMail(brain, day, ...quiet), ...simulate(brain, day, 3)];
    assert.deepEqual(records.flatMap(boardIn), []);
    assert.ok(!records.flatMap(movesIn).includes('park'));
  });

  it('sends a board write again after a network failure, as the same intent, and gives up after three', () => {
    const brain = new ScriptedBrain({ seed: 'retry', postEveryLoops: NEVER });
    const self: AgentDetails = agentAt('library', { id: 'ada', displayName: 'Ada', persona: ADA_PERSONA });
    const world = worldOf([self, ...neighbours()]);
    const perceive = (loop: number, mail: MailItem[] = []): Perception => ({
      loop,
      self,
      world,
      tick: NOON + loop,
      memory: [],
      mail,
    });
    const answer = mailItem(
      ['reply'],
      adasQuestion(21),
      reply({ id: 210, postId: 21, author: HUMAN, body: 'Lovely question.' }),
    );
    const sent: Intent[][] = [];
    const loop = (n: number, mail: MailItem[], status: (intent: Intent) => IntentOutcome['status']) => {
      const perception = perceive(n, mail);
      const intents = brain.decide(perception);
      const board = intents.filter((intent) => intent.kind === 'reply' || intent.kind === 'resolve');
      sent.push(board);
      brain.reflect(
        perception,
        intents.map((intent) => {
          const outcome = status(intent);
          return outcome === 'rejected' || outcome === 'failed'
            ? { intent, status: outcome, message: 'fetch failed' }
            : { intent, status: outcome };
        }),
      );
    };
    // The reply fails on the network every time; the resolve after it is skipped, then done.
    const replyFails = (intent: Intent) => (intent.kind === 'reply' ? 'failed' : 'skipped');
    loop(1, [answer], replyFails);
    loop(2, [], replyFails);
    loop(3, [], replyFails);
    loop(4, [], () => 'done');
    loop(5, [], () => 'done');
    assert.deepEqual(
      sent.map((board) => board.map((intent) => intent.kind)),
      [['reply', 'resolve'], ['reply', 'resolve'], ['reply', 'resolve'], ['resolve'], []],
    );
    // The very same objects, so that the loop sends the same Idempotency-Key.
    assert.equal(sent[1]![0], sent[0]![0]);
    assert.equal(sent[2]![0], sent[0]![0]);
    assert.equal(sent[3]![0], sent[0]![1]);
  });
});

describe('the board habit alone', () => {
  const context = {
    place: 'Town Bulletin Board',
    topic: 'tea',
    greeting: 'Hello',
    daypart: 'afternoon',
    clock: '12:00',
  };

  /** The decisions at which posts fall due, composing one each time (as the brain does at the board). */
  function schedule(habit: BoardHabit, posts: number, onPost: (index: number) => void = () => undefined): number[] {
    const at: number[] = [];
    for (let decision = 1; at.length < posts; decision++) {
      if (!habit.postDue(decision)) continue;
      habit.compose(decision, context);
      at.push(decision);
      onPost(at.length);
    }
    return at;
  }

  it('waits about `everyLoops` between posts, twice as long after each one nobody answered, up to eight times', () => {
    const at = schedule(new BoardHabit(createPrng('habit'), 100), 7);
    const gaps = at.slice(1).map((decision, index) => decision - at[index]!);
    const factors = [1, 2, 4, 8, 8, 8];
    gaps.forEach((gap, index) => {
      const mean = 100 * factors[index]!;
      assert.ok(gap >= mean * 0.5 && gap <= mean * 1.5, `gap ${index}: ${gap} (${gaps.join(', ')})`);
    });
    assert.ok(at[0]! >= 50 && at[0]! <= 150, `first post at ${at[0]}`);
  });

  it('is back to the usual pace once a human writes', () => {
    const habit = new BoardHabit(createPrng('habit'), 100);
    const self = agentAt('town-board', { id: 'ada', displayName: 'Ada' });
    const perception = (mail: MailItem[]): Perception => ({
      loop: 1,
      self,
      world: worldOf([self]),
      tick: NOON,
      memory: [],
      mail,
    });
    const at = schedule(habit, 7, (index) => {
      if (index !== 4) return;
      const answer = reply({ id: 300, postId: 30, author: HUMAN, body: 'Hello!' });
      habit.read(perception([mailItem(['reply'], adasQuestion(30), answer)]), () => context);
    });
    const gaps = at.slice(1).map((decision, index) => decision - at[index]!);
    // Four unanswered posts (the fourth already set a wait ×8), then an answer: ×1 again, then ×2.
    assert.ok(gaps[3]! >= 400, gaps.join(', '));
    assert.ok(gaps[4]! >= 50 && gaps[4]! <= 150, gaps.join(', '));
    assert.ok(gaps[5]! >= 100 && gaps[5]! <= 300, gaps.join(', '));
  });
});

describe('which landmark a message names', () => {
  const named = (text: string) => landmarkNamedIn(text, LANDMARKS)?.id;

  it('finds places by kind, name and id, with or without accents', () => {
    assert.equal(named('could you go to the cafe?'), 'cafe');
    assert.equal(named('Meet me at Café Aurora!'), 'cafe');
    assert.equal(named('CAFE AURORA'), 'cafe');
    assert.equal(named('The town square is lovely'), 'town-square');
    assert.equal(named('Check the bulletin board'), 'town-board');
    assert.equal(named('come by the town-board'), 'town-board');
    assert.equal(named("Have you seen Ada's Cottage?"), 'home-ada');
    assert.equal(named('by the old stone well'), 'old-well');
    assert.equal(named('The pond, at dawn.'), 'mill-pond');
    assert.equal(named('Willow Park'), 'park');
    assert.equal(landmark('library').name, 'Willowbrook Library');
    assert.equal(named('the Willowbrook library has one'), 'library');
  });

  it('prefers the place it is asked to go to, else the first one named', () => {
    assert.equal(named("I'm at the market, come to the park!"), 'park');
    assert.equal(named('The library or the workshop, both are nice'), 'library');
    assert.equal(named('Not the cafe. Meet me at the pond instead.'), 'mill-pond');
  });

  it('names nothing when no place is meant', () => {
    assert.equal(named('I like it here as well.'), undefined);
    assert.equal(named('Square meals and a good night.'), undefined);
    assert.equal(named('Welcome home!'), undefined);
    assert.equal(named(''), undefined);
  });
});
