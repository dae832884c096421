// The agent's life: perceive → decide → act → reflect, until the signal fires. All I/O happens here
// (the brain only thinks). Failure is loud: every error is a JSON line on stderr. The loop rides out
// outages with back-off, tells the brain about refused actions, and stops only on a rejected token.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AgentActionSchema,
  CreatePostRequestSchema,
  CreateReplyRequestSchema,
  MoveRequestSchema,
  VillageApiError,
  VillageClient,
} from '@ai-village/control-plane/contract';
import type { AgentAction, AgentEconomy, MailItem, World } from '@ai-village/control-plane/contract';
import { AgentMemorySync } from './agent-memory.js';
import { Backoff } from './backoff.js';
import { isBoardIntent } from './brains/brain.js';
import type { BoardIntent, Brain, Episode, Intent, IntentOutcome, Perception } from './brains/brain.js';
import { createBrain } from './brains/create-brain.js';
import type { AgentConfig } from './config.js';
import { EpisodicLog } from './episodic-log.js';
import { PenaltyTally } from './penalty-tally.js';
import { StructuredLog } from './structured-log.js';
import type { Phase } from './structured-log.js';
import { createToolRunner, type ToolRun, type ToolRunner } from './tools/index.js';
import { ToolCallLog } from './tools/tool-call-log.js';

/** Loops between two fetches of the whole world; the agent itself is fetched every loop. */
export const WORLD_REFRESH_LOOPS = 30;
export const MAX_BACKOFF_MS = 30_000;
/** The loop period varies by ±15% so that agents started together drift apart. */
const PERIOD_JITTER = 0.15;
/** Mail fetched but not yet seen by a brain that decided (one that keeps throwing) is kept up to this. */
const UNREAD_MAIL_KEPT = 200;
/** After a Retry-After wait, up to this many periods more at random, so agents refused together do not return together. */
const RETRY_AFTER_JITTER_PERIODS = 1;
/** On stop, how long the tool-call log and the memory may take to send what is left. */
const FLUSH_ON_STOP_MS = 3000;
/** Characters of a tool's output kept in an episode's note. */
const TOOL_NOTE_CHARS = 160;

export interface RunAgentOptions {
  /** Stops the loop after the step in progress. */
  signal?: AbortSignal;
  /** Defaults below are what production uses; tests replace them. */
  client?: VillageClient;
  brain?: Brain;
  log?: StructuredLog;
  memory?: EpisodicLog;
  /**
   * The agent's tools (the tier decides which may run). Default: shell, file, http and browser over
   * `config.tools`, reporting every call to the control plane's tool-call log.
   */
  tools?: ToolRunner;
  /**
   * Keeps the memory at the control plane (loaded at start, episodes and reflection notes sent as it
   * goes) so a replaced container resumes with it. Default: on when the loop makes its own client,
   * off when a test hands it one (pass a sync to have both).
   */
  memorySync?: AgentMemorySync | false;
  worldRefreshLoops?: number;
  maxBackoffMs?: number;
  /** For the jitter and back-off only; the brain has its own seeded generator. */
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
}

export interface AgentRunSummary {
  loops: number;
  memory: readonly Episode[];
}

/** The control plane refused the agent's token (401/403): retrying cannot help. */
export class AgentAuthError extends Error {
  constructor(
    readonly status: number,
    readonly phase: Phase,
    detail: string,
  ) {
    super(`the control plane refused the agent's token (${detail}): VILLAGE_AGENT_TOKEN is wrong or revoked`);
    this.name = 'AgentAuthError';
  }
}

/** Runs one agent until `signal` aborts (resolves) or its token is refused (rejects with AgentAuthError). */
export function runAgent(config: AgentConfig, options: RunAgentOptions = {}): Promise<AgentRunSummary> {
  return new AgentLoop(config, options).run();
}

type Attempt<T> = { ok: true; value: T } | { ok: false; retryInMs: number };

class AgentLoop {
  private readonly signal: AbortSignal;
  private readonly client: VillageClient;
  private readonly brain: Brain;
  private readonly log: StructuredLog;
  private readonly memory: EpisodicLog;
  private readonly tools: ToolRunner;
  private readonly toolLog: ToolCallLog | undefined;
  private readonly memorySync: AgentMemorySync | undefined;
  private memoryLoaded = false;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly worldRefreshLoops: number;
  private loop = 0;
  private world: { value: World; fetchedAt: number; fetchedInLoop: number } | undefined;
  /**
   * The mail cursor, in memory only: sending it acknowledges what came before it, so a restarted
   * runtime (no cursor) resumes from the server's last acknowledged one without re-reading the rest.
   */
  private mailCursor: string | undefined;
  /** Mail fetched and not yet handed to a `decide` that succeeded. */
  private unreadMail: MailItem[] = [];
  /** One Idempotency-Key per board write, reused when the brain retries the same intent object. */
  private readonly writeKeys = new WeakMap<BoardIntent, string>();
  private readonly penalties = new PenaltyTally();

  constructor(
    private readonly config: AgentConfig,
    options: RunAgentOptions,
  ) {
    this.signal = options.signal ?? new AbortController().signal;
    this.client = options.client ?? new VillageClient({ baseUrl: config.villageUrl, token: config.agentToken });
    this.log = options.log ?? new StructuredLog({ agent: config.agentId });
    this.brain = options.brain ?? createBrain(config, { log: this.log, signal: this.signal });
    this.memory = options.memory ?? new EpisodicLog();
    if (options.tools) {
      this.tools = options.tools;
    } else {
      this.toolLog = new ToolCallLog(this.client, config.agentId, this.log);
      this.tools = createToolRunner(config.tools, this.toolLog);
    }
    const memorySync =
      options.memorySync ??
      (options.client ? false : new AgentMemorySync(this.client, config.agentId, this.log, config.reflectEveryLoops));
    if (memorySync) {
      this.memorySync = memorySync;
      this.memory.onRecord((episode, key) => memorySync.recorded(episode, key));
    }
    this.random = options.random ?? Math.random;
    this.backoff = new Backoff(config.loopMs, options.maxBackoffMs ?? MAX_BACKOFF_MS, this.random);
    this.sleep = options.sleep ?? sleepUnlessAborted;
    this.now = options.now ?? Date.now;
    this.worldRefreshLoops = options.worldRefreshLoops ?? WORLD_REFRESH_LOOPS;
  }

  async run(): Promise<AgentRunSummary> {
    this.log.info('start', { brain: this.brain.kind, url: this.config.villageUrl, loopMs: this.config.loopMs });
    // Agents launched together start at different moments within one period.
    await this.sleep(Math.round(this.random() * this.config.loopMs), this.signal);
    while (!this.signal.aborted) {
      const waitMs = await this.step();
      if (this.signal.aborted) break;
      await this.sleep(waitMs, this.signal);
    }
    await this.wrapUp();
    this.log.info('stop', { loops: this.loop });
    return { loops: this.loop, memory: this.memory.entries() };
  }

  /** Sends what the tool-call log and the memory still hold, and closes the tools (the browser). */
  private async wrapUp(): Promise<void> {
    await Promise.all([
      this.toolLog?.flush(FLUSH_ON_STOP_MS),
      this.memorySync?.flush(FLUSH_ON_STOP_MS),
      this.tools.close(),
    ]).catch((error: unknown) => this.log.error('stop', `could not wrap up: ${errorMessage(error)}`));
  }

  /** One perceive → decide → act → reflect; returns how long to wait before the next. */
  private async step(): Promise<number> {
    this.loop++;
    const perceived = await this.attempt('perceive', () => this.perceive());
    if (!perceived.ok) return perceived.retryInMs;
    const perception = perceived.value;
    const decided = await this.attempt('decide', () => this.brain.decide(perception));
    if (!decided.ok) return decided.retryInMs;
    this.unreadMail = [];
    const { outcomes, retryInMs } = await this.act(decided.value);
    await this.reflect(perception, outcomes);
    if (retryInMs !== undefined) return retryInMs;
    const failures = this.backoff.reset();
    if (failures > 0) this.log.info('perceive', { loop: this.loop, recovered: true, failures });
    return Math.round(this.config.loopMs * (1 - PERIOD_JITTER + 2 * PERIOD_JITTER * this.random()));
  }

  private async perceive(): Promise<Perception> {
    if (this.memorySync && !this.memoryLoaded) await this.recall(this.memorySync);
    if (!this.world || this.loop - this.world.fetchedInLoop >= this.worldRefreshLoops) {
      const value = await this.client.world();
      this.world = { value, fetchedAt: this.now(), fetchedInLoop: this.loop };
    }
    const self = await this.client.agent(this.config.agentId);
    this.tools.setEntitlements({ ...self.economy.entitlements, tierName: self.economy.tier.name });
    const mail = await this.readMail();
    const penalized = await this.countPenalties(self.economy);
    const { value: world, fetchedAt } = this.world;
    const tick = world.clock.tick + Math.max(0, Math.floor((this.now() - fetchedAt) / world.clock.tickMs));
    return { loop: this.loop, self, world, tick, memory: this.memory.entries(), mail, penalized };
  }

  /**
   * The penalties so far: a ledger read only in a loop where the balance changed. A failed read does not
   * hold the agent back: a network or 5xx failure is retried next loop, a refusal (4xx) is given up.
   */
  private async countPenalties(economy: AgentEconomy): Promise<number> {
    try {
      return await this.penalties.update(economy, (range) =>
        this.client.ledger(this.config.agentId, { range, sort: ['seq', 'DESC'] }),
      );
    } catch (error) {
      const problem = this.classify('perceive', error);
      if (problem.kind === 'rejected') this.penalties.forgo();
      this.log.warn('perceive', `ledger: ${problem.message}`, { loop: this.loop, status: problem.status });
      return this.penalties.penalized;
    }
  }

  /**
   * What the control plane kept of this agent's memory, once, before the first decision: a network or
   * 5xx failure fails the perceive phase (back-off; a replaced container should not act without its
   * memory), a refusal (4xx) is logged and the agent lives on with what it has.
   */
  private async recall(sync: AgentMemorySync): Promise<void> {
    try {
      const recalled = await sync.load();
      this.memory.restore(recalled.keyed);
      this.brain.recall?.(recalled);
      this.log.info('perceive', {
        loop: this.loop,
        memory: 'restored',
        episodes: recalled.episodes.length,
        notes: recalled.notes.length,
      });
    } catch (error) {
      const problem = this.classify('perceive', error);
      if (problem.kind === 'transient') throw error;
      this.log.warn('perceive', `memory: ${problem.message}; starting without it`, { status: problem.status });
    }
    this.memoryLoaded = true;
  }

  /**
   * One mail request a loop: what is new since the cursor (which it acknowledges). A network or 5xx
   * failure fails the perceive phase (back-off; the cursor is kept, so nothing is lost); a refused
   * request (4xx) is logged and the agent lives on without mail this loop, from the server's cursor.
   */
  private async readMail(): Promise<MailItem[]> {
    try {
      const mail = await this.client.mail(this.config.agentId, this.mailCursor ? { cursor: this.mailCursor } : {});
      this.mailCursor = mail.cursor;
      const known = new Set(this.unreadMail.map((item) => item.cursor));
      this.unreadMail.push(...mail.items.filter((item) => !known.has(item.cursor)));
      if (this.unreadMail.length > UNREAD_MAIL_KEPT)
        this.unreadMail.splice(0, this.unreadMail.length - UNREAD_MAIL_KEPT);
      if (mail.items.length > 0) {
        this.log.info('perceive', { loop: this.loop, mail: mail.items.length, more: mail.more, cursor: mail.cursor });
      }
    } catch (error) {
      const problem = this.classify('perceive', error);
      if (problem.kind === 'transient') throw error;
      this.log.warn('perceive', `mail: ${problem.message}`, { loop: this.loop, status: problem.status });
      this.mailCursor = undefined;
    }
    return [...this.unreadMail];
  }

  /**
   * Does the intents in order; after a network or 5xx failure the rest are skipped. Tool intents next
   * to each other run at the same time (the tool runner refuses those beyond the tier's concurrency).
   */
  private async act(intents: readonly Intent[]): Promise<{ outcomes: IntentOutcome[]; retryInMs?: number }> {
    const outcomes: IntentOutcome[] = [];
    let retryInMs: number | undefined;
    for (let index = 0; index < intents.length; index++) {
      const intent = intents[index]!;
      if (retryInMs !== undefined) {
        outcomes.push({ intent, status: 'skipped' });
        continue;
      }
      if (intent.kind === 'tool') {
        let end = index;
        while (intents[end + 1]?.kind === 'tool') end++;
        const group = intents.slice(index, end + 1) as Extract<Intent, { kind: 'tool' }>[];
        outcomes.push(...(await Promise.all(group.map((tool) => this.useTool(tool)))));
        index = end;
        continue;
      }
      try {
        const outcome = await this.perform(intent);
        outcomes.push(outcome);
        if (outcome.status === 'rejected') {
          this.log.warn('act', outcome.message, { loop: this.loop, intent: describeIntent(intent) });
        }
      } catch (error) {
        // A 403 on a board write is about the post (only its author may resolve it), not the token:
        // the mail, read with the same token every loop, would have been refused first.
        const problem = this.classify('act', error, { forbiddenIsRefusal: isBoardIntent(intent) });
        if (problem.kind === 'rejected') {
          this.log.warn('act', problem.message, {
            loop: this.loop,
            intent: describeIntent(intent),
            status: problem.status,
          });
          outcomes.push({ intent, status: 'rejected', httpStatus: problem.status, message: problem.message });
        } else {
          retryInMs = this.retryIn('act', error, problem, { loop: this.loop, intent: describeIntent(intent) });
          outcomes.push({ intent, status: 'failed', message: problem.message });
        }
      }
    }
    return { outcomes, retryInMs };
  }

  /** A tool call: its result, whatever happened (the runner never throws); a failure is the brain's to read. */
  private async useTool(intent: Extract<Intent, { kind: 'tool' }>): Promise<IntentOutcome> {
    const run = await this.tools.run(intent.call);
    const fields = {
      loop: this.loop,
      intent: describeIntent(intent),
      action: run.action,
      ok: run.ok,
      exitCode: run.exitCode,
      durationMs: run.durationMs,
      callId: run.callId,
    };
    if (run.ok) {
      this.log.info('act', fields);
      return { intent, status: 'done', tool: run };
    }
    this.log.warn('act', run.error ?? 'the tool failed', fields);
    return { intent, status: 'rejected', message: run.error ?? 'the tool failed', tool: run };
  }

  private async perform(intent: Intent): Promise<IntentOutcome> {
    const agentId = this.config.agentId;
    if (intent.kind === 'idle') return { intent, status: 'done' };
    if (intent.kind === 'move') {
      // Checked against the contract first, so a malformed intent costs no request.
      const checked = MoveRequestSchema.safeParse(intent.to);
      if (!checked.success)
        return { intent, status: 'rejected', message: `not a valid move: ${summarizeIssues(checked.error)}` };
      const move = await this.client.move(agentId, intent.to);
      this.log.info('act', { loop: this.loop, intent: describeIntent(intent), outcome: move.outcome, eta: move.eta });
      return { intent, status: 'done', move };
    }
    if (isBoardIntent(intent)) return this.write(intent);
    if (intent.kind === 'tool') return this.useTool(intent);
    const action: AgentAction =
      intent.kind === 'say' ? { type: 'say', text: intent.text } : { type: 'emote', emote: intent.emote };
    const checked = AgentActionSchema.safeParse(action);
    if (!checked.success)
      return { intent, status: 'rejected', message: `not a valid action: ${summarizeIssues(checked.error)}` };
    const result = await this.client.act(agentId, checked.data);
    this.log.info('act', {
      loop: this.loop,
      intent: describeIntent(intent),
      ...(intent.kind === 'say' ? { text: intent.text } : {}),
    });
    return { intent, status: 'done', action: result };
  }

  /** A board write, checked against the contract first like the rest. */
  private async write(intent: BoardIntent): Promise<IntentOutcome> {
    const loop = this.loop;
    const described = describeIntent(intent);
    if (intent.kind === 'resolve') {
      const post = await this.client.updatePost(intent.postId, { status: 'resolved' });
      this.log.info('act', { loop, intent: described, status: post.status });
      return { intent, status: 'done', post };
    }
    const idempotencyKey = this.writeKeys.get(intent) ?? randomUUID();
    this.writeKeys.set(intent, idempotencyKey);
    if (intent.kind === 'post') {
      const checked = CreatePostRequestSchema.safeParse({
        title: intent.title,
        body: intent.body,
        tags: intent.tags,
        audience: 'public',
      });
      if (!checked.success)
        return { intent, status: 'rejected', message: `not a valid post: ${summarizeIssues(checked.error)}` };
      const post = await this.client.createPost(checked.data, { idempotencyKey });
      this.log.info('act', { loop, intent: described, postId: post.id, title: post.title });
      return { intent, status: 'done', post };
    }
    const checked = CreateReplyRequestSchema.safeParse({ body: intent.body });
    if (!checked.success)
      return { intent, status: 'rejected', message: `not a valid reply: ${summarizeIssues(checked.error)}` };
    const reply = await this.client.reply(intent.postId, checked.data, { idempotencyKey });
    this.log.info('act', { loop, intent: described, replyId: reply.id, text: reply.body });
    return { intent, status: 'done', reply };
  }

  private async reflect(perception: Perception, outcomes: readonly IntentOutcome[]): Promise<void> {
    for (const outcome of outcomes) {
      this.memory.record({
        loop: this.loop,
        tick: perception.tick,
        position: perception.self.position,
        landmark: perception.self.landmark,
        intent: memorableIntent(outcome.intent),
        status: outcome.status,
        ...noteOf(outcome),
      });
    }
    this.memorySync?.reflect(this.loop);
    try {
      await this.brain.reflect(perception, outcomes);
    } catch (error) {
      // A brain that cannot learn still acts; say so and carry on.
      this.log.error('reflect', errorMessage(error), { loop: this.loop });
    }
  }

  /** Runs one phase; a failure is logged and answered with a back-off, a refused token ends the run. */
  private async attempt<T>(phase: Phase, work: () => T | Promise<T>): Promise<Attempt<T>> {
    try {
      return { ok: true, value: await work() };
    } catch (error) {
      // Already logged where it was found (the mail, say): the run ends.
      if (error instanceof AgentAuthError) throw error;
      const problem = this.classify(phase, error);
      return { ok: false, retryInMs: this.retryIn(phase, error, problem, { loop: this.loop }) };
    }
  }

  /**
   * How long to wait after a failure that retrying may cure, logged in one line: as long as the
   * control plane asks on a 429 (Retry-After: the agent is over its tier's requests a minute), else
   * the back-off. Either way the failure counts towards the back-off.
   */
  private retryIn(
    phase: Phase,
    error: unknown,
    problem: { status?: number; message: string },
    fields: Record<string, unknown>,
  ): number {
    const backoffMs = this.backoff.next();
    const retryAfterS = retryAfterSeconds(error);
    if (retryAfterS === undefined) {
      this.log.error(phase, problem.message, { ...fields, status: problem.status, retryInMs: backoffMs });
      return backoffMs;
    }
    const jitterMs = Math.round(this.random() * RETRY_AFTER_JITTER_PERIODS * this.config.loopMs);
    const retryInMs = Math.ceil(retryAfterS * 1000) + jitterMs;
    this.log.warn(phase, `rate limited: waiting ${retryAfterS} s as the control plane asks (${problem.message})`, {
      ...fields,
      status: problem.status,
      retryAfterS,
      retryInMs,
    });
    return retryInMs;
  }

  /** Sorts an error; a refused token is logged and thrown from here, whatever the phase. */
  private classify(
    phase: Phase,
    error: unknown,
    { forbiddenIsRefusal = false } = {},
  ): { kind: 'rejected' | 'transient'; status?: number; message: string } {
    if (error instanceof VillageApiError) {
      if (error.status === 401 || (error.status === 403 && !forbiddenIsRefusal)) {
        const fatal = new AgentAuthError(error.status, phase, error.message);
        this.log.error(phase, fatal.message, { loop: this.loop, status: error.status, fatal: true });
        throw fatal;
      }
      const transient = error.status >= 500 || error.status === 408 || error.status === 429;
      return { kind: transient ? 'transient' : 'rejected', status: error.status, message: error.message };
    }
    return { kind: 'transient', message: errorMessage(error) };
  }
}

async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

/** The seconds a 429 (or 503) asks the agent to wait: its `Retry-After` header. Undefined otherwise. */
export function retryAfterSeconds(error: unknown): number | undefined {
  return error instanceof VillageApiError ? error.retryAfterSeconds : undefined;
}

/** `move:cafe`, `move:3,4`, `step:1,0`, `say`, `emote:wave`, `idle`, `post`, `reply:12`, `resolve:12`, `tool:shell` */
export function describeIntent(intent: Intent): string {
  switch (intent.kind) {
    case 'move':
      if ('landmark' in intent.to) return `move:${intent.to.landmark}`;
      if ('x' in intent.to) return `move:${intent.to.x},${intent.to.y}`;
      return `step:${intent.to.dx},${intent.to.dy}`;
    case 'emote':
      return `emote:${intent.emote}`;
    case 'reply':
    case 'resolve':
      return `${intent.kind}:${intent.postId}`;
    case 'tool':
      return `tool:${intent.call.tool}`;
    default:
      return intent.kind;
  }
}

function noteOf(outcome: IntentOutcome): { note?: string } {
  if (outcome.status === 'rejected' || outcome.status === 'failed') return { note: outcome.message };
  if (outcome.status !== 'done') return {};
  if (outcome.tool) return { note: toolNote(outcome.tool) };
  if (outcome.move) return { note: outcome.move.outcome };
  if (outcome.reply) return { note: `reply #${outcome.reply.id}` };
  if (outcome.post) return { note: `post #${outcome.post.id} ${outcome.post.status}` };
  return {};
}

/** `GET 200: <first line of the output>` */
function toolNote(run: ToolRun): string {
  const first = run.output.trim().split('\n', 1)[0] ?? '';
  const line = `${run.action}${typeof run.exitCode === 'number' ? ` ${run.exitCode}` : ''}: ${first}`;
  return line.length <= TOOL_NOTE_CHARS ? line : `${line.slice(0, TOOL_NOTE_CHARS - 1)}…`;
}

/** What memory keeps of an intent: a tool call's input without its bulk (a file's content is not memory). */
function memorableIntent(intent: Intent): Intent {
  if (intent.kind !== 'tool') return intent;
  const input = intent.call.input;
  if (typeof input !== 'object' || input === null) return intent;
  const kept = Object.fromEntries(
    Object.entries(input as Record<string, unknown>).map(([key, value]) => [
      key,
      typeof value === 'string' && value.length > 200 ? `${value.slice(0, 199)}…` : value,
    ]),
  );
  return { kind: 'tool', call: { tool: intent.call.tool, input: kept } };
}

interface IssueList {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}

function summarizeIssues(error: IssueList): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** One line, whatever was thrown: a fetch failure names its cause, a contract mismatch its first issues. */
function errorMessage(error: unknown): string {
  if (error instanceof Error && 'issues' in error && Array.isArray(error.issues)) {
    return `the answer does not match the contract: ${summarizeIssues(error as unknown as IssueList)}`;
  }
  if (error instanceof Error) {
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    const detail = cause?.code ?? cause?.message;
    return detail === undefined ? error.message : `${error.message} (${String(detail)})`;
  }
  return String(error);
}
