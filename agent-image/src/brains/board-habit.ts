// The scripted brain on the town board: now and then it pins a question there, and every loop it
// answers its mail. A human who names a place ("could you go to the cafe?") sends it there; other
// agents get one answer per thread at most, so that two agents never talk to each other forever.
// A human who asks it to fetch a page gets a summary of it with the link (fetch-errand.ts).
// Deterministic like the rest of the brain: its own seeded generator, no clock, no I/O.
import type { Landmark, MailItem } from '@ai-village/control-plane/contract';
import type { HttpAnswer } from '../tools/index.js';
import { isBoardIntent } from './brain.js';
import type { BoardIntent, Intent, IntentOutcome, Perception } from './brain.js';
import { failureReply, fetchRequestIn, summarizePage, summaryReply } from './fetch-errand.js';
import { landmarkNamedIn } from './landmark-mentions.js';
import type { Prng } from './prng.js';
import { boardPost, boardReplyLine } from './scripted-lines.js';
import type { BoardReplyKind, LineContext } from './scripted-lines.js';

/** Loops between two posts on average (±50%): about five minutes at the default 2 s period. */
export const DEFAULT_POST_EVERY_LOOPS = 150;
/** Every post in a row that no human answered doubles the wait for the next, up to this: a quiet board is not flooded. */
const MAX_QUIET_FACTOR = 8;
/** Board writes sent in one loop; the rest wait for the next loops. */
const WRITES_PER_LOOP = 3;
/** A write that failed on the network this many times is given up. */
const MAX_WRITE_ATTEMPTS = 3;
/** Writes waiting at most (the oldest go first). */
const OUTBOX_CAPACITY = 20;
/** Mail items remembered as answered (a restart may deliver the last loop's again, and the same loop's twice). */
const HANDLED_REMEMBERED = 500;
/** Pages waiting to be fetched at most; one is fetched a loop. */
const ERRANDS_KEPT = 5;
/** A fetch that failed on the network (not the page's fault) is tried this many times. */
const MAX_FETCH_ATTEMPTS = 2;

type ToolIntent = Extract<Intent, { kind: 'tool' }>;

/** A page a person asked it to fetch, and where to answer. */
interface Errand {
  url: string;
  postId: number;
  by: string;
  attempts: number;
}

export interface BoardReading {
  /** Board writes for this loop: retries first, then answers, oldest first. */
  intents: BoardIntent[];
  /** A page to fetch for someone this loop (its answer is queued when the result comes back). */
  fetch?: ToolIntent;
  /** A human asked the agent to go somewhere (the newest such request). */
  summon?: { landmark: Landmark; by: string };
}

/** The context lines are rendered in; `place` is where the line is about (none: the village). */
export type ContextAt = (place: Landmark | undefined) => LineContext;

export class BoardHabit {
  /** The next post falls due `gap` decisions (times the pace) after `drawnAt`. */
  private drawnAt = 0;
  private gap: number;
  /** Posts since a human last wrote to the agent. */
  private quiet = 0;
  private lastTitle: string | null = null;
  private readonly outbox: BoardIntent[] = [];
  private readonly attempts = new WeakMap<BoardIntent, number>();
  private readonly handled = new Set<string>();
  /** Threads where it already answered an agent. */
  private readonly answeredAgentIn = new Set<number>();
  private readonly resolved = new Set<number>();
  private readonly errands: Errand[] = [];
  /** The fetch intents sent, to match their outcomes. */
  private readonly fetching = new WeakMap<ToolIntent, Errand>();

  constructor(
    private readonly random: Prng,
    private readonly everyLoops = DEFAULT_POST_EVERY_LOOPS,
  ) {
    this.gap = this.interval(1);
  }

  /**
   * Time to pin something (the brain then heads for the board, in the daytime). `pace` stretches or
   * shortens the wait (the brain's tier sets it); it applies to the wait in progress too.
   */
  postDue(decision: number, pace = 1): boolean {
    return decision >= this.drawnAt + Math.max(1, Math.round(this.gap * pace));
  }

  /** Not now (night, no board to go to): another interval first. */
  postpone(decision: number): void {
    this.wait(decision, 1);
  }

  /** The post to pin now, standing at the board. The next one waits longer while nobody answers. */
  compose(decision: number, context: LineContext): BoardIntent {
    let post = boardPost(context, this.random);
    for (let tries = 0; tries < 3 && post.title === this.lastTitle; tries++) post = boardPost(context, this.random);
    this.lastTitle = post.title;
    this.wait(decision, Math.min(MAX_QUIET_FACTOR, 2 ** this.quiet));
    this.quiet++;
    return { kind: 'post', ...post };
  }

  /** Answers the new mail; returns them (and any writes still waiting) and where a human asked it to go. */
  read(perception: Perception, contextAt: ContextAt): BoardReading {
    let summon: BoardReading['summon'];
    for (const item of perception.mail) {
      const going = this.answer(item, perception, contextAt);
      if (going) summon = going;
    }
    const errand = this.errands.shift();
    let fetch: ToolIntent | undefined;
    if (errand) {
      fetch = { kind: 'tool', call: { tool: 'http', input: { url: errand.url, method: 'GET' } } };
      this.fetching.set(fetch, errand);
    }
    return { intents: this.outbox.splice(0, WRITES_PER_LOOP), ...(fetch ? { fetch } : {}), summon };
  }

  /** Writes that failed on the network (or were not tried) go out again, as the same intent objects. */
  reflect(outcomes: readonly IntentOutcome[]): void {
    const again: BoardIntent[] = [];
    for (const outcome of outcomes) {
      const { intent } = outcome;
      if (intent.kind === 'tool') {
        this.fetched(intent, outcome);
        continue;
      }
      if (!isBoardIntent(intent) || (outcome.status !== 'failed' && outcome.status !== 'skipped')) continue;
      const attempts = (this.attempts.get(intent) ?? 0) + (outcome.status === 'failed' ? 1 : 0);
      if (attempts >= MAX_WRITE_ATTEMPTS) continue;
      this.attempts.set(intent, attempts);
      again.push(intent);
    }
    this.outbox.unshift(...again);
    this.outbox.splice(0, Math.max(0, this.outbox.length - OUTBOX_CAPACITY));
  }

  /** Queues the answer to one mail item; returns the place a human asked it to go to, if any. */
  private answer(item: MailItem, perception: Perception, contextAt: ContextAt): BoardReading['summon'] {
    const { self } = perception;
    const message = item.reply ?? item.post;
    const key = item.reply ? `reply:${item.reply.id}` : `post:${item.post.id}`;
    if (this.handled.has(key)) return undefined;
    this.remember(key);
    const { author } = message;
    const own = author.type === 'agent' && author.id === self.id;
    if (own || author.type === 'system' || !canAnswer(item)) return undefined;
    const postId = item.post.id;
    const say = (kind: BoardReplyKind, place?: Landmark) =>
      this.queue({
        kind: 'reply',
        postId,
        body: boardReplyLine(kind, { ...contextAt(place), name: author.name }, this.random),
      });

    if (author.type === 'agent') {
      if (this.answeredAgentIn.has(postId)) return undefined;
      this.answeredAgentIn.add(postId);
      say('agent');
      return undefined;
    }

    this.quiet = 0;
    const text = item.reply ? item.reply.body : `${item.post.title}\n${item.post.body}`;
    const url = fetchRequestIn(text);
    if (url) {
      this.errands.push({ url, postId, by: author.name, attempts: 0 });
      if (this.errands.length > ERRANDS_KEPT) this.errands.shift();
      return undefined;
    }
    const place = landmarkNamedIn(text, perception.world.landmarks);
    if (place && self.landmark === place.id && !self.walking) {
      say('alreadyThere', place);
      return undefined;
    }
    if (place) {
      say('goingThere', place);
      return { landmark: place, by: author.name };
    }
    // An answer to its own question: thanks, and the question is settled.
    const ownQuestion = item.reply !== null && item.post.author.type === 'agent' && item.post.author.id === self.id;
    say(ownQuestion ? 'thanks' : 'note');
    if (ownQuestion && item.post.status === 'open' && !this.resolved.has(postId)) {
      this.resolved.add(postId);
      this.queue({ kind: 'resolve', postId });
    }
    return undefined;
  }

  /** A page came back (or did not): the summary with its link, or why not, goes into the thread. */
  private fetched(intent: ToolIntent, outcome: IntentOutcome): void {
    const errand = this.fetching.get(intent);
    if (!errand) return;
    if (outcome.status === 'failed' || outcome.status === 'skipped') {
      // Not tried, or the loop failed around it: try again later.
      if (++errand.attempts < MAX_FETCH_ATTEMPTS) this.errands.unshift(errand);
      return;
    }
    const run = outcome.tool;
    const answer = run?.data as HttpAnswer | undefined;
    const body =
      outcome.status === 'done' && answer
        ? summaryReply(answer.url, summarizePage(answer))
        : failureReply(errand.url, outcome.status === 'rejected' ? outcome.message : 'no answer');
    this.queue({ kind: 'reply', postId: errand.postId, body });
  }

  private queue(intent: BoardIntent): void {
    this.outbox.push(intent);
    if (this.outbox.length > OUTBOX_CAPACITY) this.outbox.shift();
  }

  private remember(key: string): void {
    this.handled.add(key);
    if (this.handled.size > HANDLED_REMEMBERED) this.handled.delete(this.handled.values().next().value!);
  }

  private wait(decision: number, factor: number): void {
    this.drawnAt = decision;
    this.gap = this.interval(factor);
  }

  /** `everyLoops` × factor, ±50%. */
  private interval(factor: number): number {
    return Math.max(1, Math.round(this.everyLoops * factor * (0.5 + this.random.next())));
  }
}

/** Replies to a closed, locked or moderated thread, or to a hidden reply, would be refused. */
function canAnswer(item: MailItem): boolean {
  const { post, reply } = item;
  if (post.locked || post.status === 'closed' || post.status === 'moderated') return false;
  return reply === null || reply.status === 'visible';
}
