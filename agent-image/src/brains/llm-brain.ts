// The LLM brain (`VILLAGE_AGENT_BRAIN=llm`): each turn it shows a model its situation and compact
// memory and lets it choose actions by calling tools (llm-tools.ts), through the village's own
// OpenAI-compatible gateway at `<villageUrl>/v1` (llm-gateway.ts), paying with the agent's aiDollars.
//
// It is careful with money and loud about trouble:
// - it uses only the models the gateway lists for its tier, best first, and steps down to a cheaper
//   one on 402 (cannot afford) or 429 (a limit, for as long as Retry-After says) (llm-models.ts);
//   when no model can be used it idles, and says so once in its log and in its memory;
// - it paces itself to its tier's LLM tokens an hour (from what its calls really cost), and does not
//   think while it walks with nothing new to read;
// - paused by the village's loop breaker (403 agent_paused), it idles for a long while, logged once;
// - when the gateway cannot be reached, no upstream answers, or no model is listed, the scripted brain
//   decides that loop instead, so the agent keeps living; each change of state is one log line
//   (error, or warn for "no model"), never one a loop, and it tries again later.
import type { MailItem } from '@ai-village/control-plane/contract';
import { formatAiDollars } from '@ai-village/control-plane/contract';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { StructuredLog } from '../structured-log.js';
import type { Brain, Intent, IntentOutcome, Perception, RecalledMemory } from './brain.js';
import { AGENT_WIDE_LIMITS, classifyGatewayError, LlmGateway } from './llm-gateway.js';
import type { GatewayProblem } from './llm-gateway.js';
import { DEFAULT_MEMORY_CHARS, LlmMemory } from './llm-memory.js';
import type { MemoryKind } from './llm-memory.js';
import { ModelChoice } from './llm-models.js';
import { mailLine, systemPrompt, turnPrompt } from './llm-prompt.js';
import { clip, intentFromToolCall, MAX_TOOL_CALLS_PER_LOOP, toolsFor } from './llm-tools.js';
import { ScriptedBrain } from './scripted-brain.js';

export const DEFAULT_LLM_TIMEOUT_MS = 30_000;
export const DEFAULT_LLM_MAX_TOKENS = 400;
/** How long a model refused with 402 is left alone, unless more money is available sooner. */
export const UNAFFORDABLE_RETRY_MS = 60_000;
/** A 429 or 503 without Retry-After leaves the model alone this long. */
export const DEFAULT_RETRY_AFTER_MS = 30_000;
/** A paused agent asks again after this long (or the pause's own Retry-After). */
export const PAUSE_MS = 10 * 60_000;
/** After the gateway failed (unreachable, refused), the scripted brain decides for this long, doubling to the cap. */
export const TROUBLE_FIRST_WAIT_MS = 5_000;
export const TROUBLE_MAX_WAIT_MS = 60_000;
/** Mail kept for the next thought when the brain could not think (paced, waiting, paused). */
const PENDING_MAIL_KEPT = 20;
const SEEN_MAIL_KEPT = 500;
/** Characters of a mail text written into memory (the prompt shows more of this turn's mail). */
const MAIL_MEMORY_CHARS = 90;
/** Tool results shown to the model in its next turn, at most this many and this long each. */
const TOOL_RESULTS_KEPT = 3;
const TOOL_RESULT_CHARS = 1500;
/** Reflection notes from a previous runtime put back into memory. */
const RECALLED_NOTES = 2;

export interface LlmBrainOptions {
  seed: string;
  villageUrl: string;
  agentToken: string;
  log: StructuredLog;
  /** `VILLAGE_AGENT_MODELS`: models to use, most wanted first. */
  models?: readonly string[];
  timeoutMs?: number;
  maxTokens?: number;
  memoryChars?: number;
  /** Defaults to `<villageUrl>/v1`. */
  gatewayUrl?: string;
  /** What decides when the model cannot: a ScriptedBrain with the same seed by default. */
  fallback?: Brain;
  modelRefreshLoops?: number;
  modelRelistLoops?: number;
  now?: () => number;
  /** The loop's stop signal: a call in flight is abandoned when the agent is told to stop. */
  signal?: AbortSignal;
}

type State = 'starting' | 'ok' | 'no-models' | 'waiting' | 'paused' | 'unreachable' | 'no-upstream' | 'refused';

export class LlmBrain implements Brain {
  readonly kind = 'llm' as const;
  readonly memory: LlmMemory;
  private readonly gateway: LlmGateway;
  private readonly models: ModelChoice;
  private readonly fallback: Brain;
  private readonly log: StructuredLog;
  private readonly now: () => number;
  private readonly maxTokens: number;
  private readonly preference: readonly string[] | undefined;
  private readonly signal: AbortSignal | undefined;
  private state: State = 'starting';
  /** Who decided this loop, so that `reflect` reaches the scripted brain only for its own intents. */
  private turn: 'llm' | 'scripted' | 'none' = 'none';
  private pausedUntil = 0;
  /** The economy said last loop that the loop breaker holds the agent. */
  private economyPaused = false;
  private troubleUntil = 0;
  private troubleFailures = 0;
  private lastThoughtAt = Number.NEGATIVE_INFINITY;
  /** Tokens a call costs, on average (usage as the gateway reports it). */
  private tokensPerCall: number | undefined;
  private pendingMail: MailItem[] = [];
  /** What its last tool calls gave, for the next turn (the model asked, so it should read the answer). */
  private toolResults: string[] = [];
  private readonly seenMail = new Set<string>();
  private notedPlace: string | null = null;
  private notedCompany = '';
  private notedBalance: { balance: number; tier: string } | undefined;
  /** Models the gateway refused for the tier, each said once (until the model works again). */
  private readonly refusedModels = new Set<string>();

  constructor(options: LlmBrainOptions) {
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.signal = options.signal;
    this.maxTokens = options.maxTokens ?? DEFAULT_LLM_MAX_TOKENS;
    this.preference = options.models && options.models.length > 0 ? options.models : undefined;
    this.memory = new LlmMemory(options.memoryChars ?? DEFAULT_MEMORY_CHARS);
    this.fallback = options.fallback ?? new ScriptedBrain({ seed: options.seed });
    this.models = new ModelChoice({
      ...(this.preference ? { preference: this.preference } : {}),
      ...(options.modelRefreshLoops === undefined ? {} : { refreshLoops: options.modelRefreshLoops }),
      ...(options.modelRelistLoops === undefined ? {} : { relistLoops: options.modelRelistLoops }),
    });
    this.gateway = new LlmGateway({
      baseURL: options.gatewayUrl ?? `${options.villageUrl.replace(/\/+$/, '')}/v1`,
      apiKey: options.agentToken,
      timeoutMs: options.timeoutMs ?? DEFAULT_LLM_TIMEOUT_MS,
    });
  }

  async decide(perception: Perception): Promise<Intent[]> {
    this.turn = 'none';
    this.observe(perception);
    const { self } = perception;
    const now = this.now();
    // The agent's economy says whether the loop breaker holds its LLM calls: no request is wasted
    // while it does, and a moderator's resume is seen at once.
    const paused = computePausedOf(perception);
    const resumed = paused === null && this.economyPaused;
    this.economyPaused = Boolean(paused);
    if (paused) return this.pause(perception, { kind: 'paused', message: `paused: ${paused}` });
    if (resumed) this.pausedUntil = 0;
    if (now < this.pausedUntil) return [idle('paused by the loop breaker')];
    if (now < this.troubleUntil) return this.habit(perception);

    if (this.models.listingDue(perception.loop)) {
      const listed = await this.listModels(perception);
      if (listed === 'stopping') return [idle('stopping')];
      if (listed === 'paused') return [idle('paused by the loop breaker')];
      if (listed === 'trouble') return this.habit(perception);
    }
    const ordered = this.models.ordered(self.economy.entitlements.models);
    if (ordered.length === 0) return this.noModels(perception);

    // Thinking costs money: not while walking with nothing new, nor faster than the tier's tokens allow.
    if (self.walking && this.pendingMail.length === 0 && this.toolResults.length === 0) {
      return [idle(self.walking.landmark ? `walking to ${self.walking.landmark}` : 'walking')];
    }
    if (now - this.lastThoughtAt < this.pacingMs(perception)) return [idle('thinking it over')];

    const ready = this.models.ready(ordered, now, self.economy.available);
    // The gateway refuses a max_tokens above the tier's tokens an hour (400).
    const perHour = self.economy.entitlements.llmTokensPerHour;
    const maxTokens = perHour > 0 ? Math.min(this.maxTokens, perHour) : this.maxTokens;
    const messages = [
      { role: 'system' as const, content: systemPrompt(self, perception.world, self.economy.entitlements.tools) },
      {
        role: 'user' as const,
        content: turnPrompt(perception, this.pendingMail, this.memory.render(), this.toolResults),
      },
    ];
    for (const model of ready) {
      let completion: ChatCompletion;
      try {
        completion = await this.gateway.complete({
          model,
          messages,
          tools: toolsFor(self.economy.entitlements.tools),
          maxTokens,
          ...(this.signal ? { signal: this.signal } : {}),
        });
      } catch (error) {
        // Told to stop mid-call: nothing went wrong, and the loop ends after this step.
        if (this.signal?.aborted) return [idle('stopping')];
        const problem = classifyGatewayError(error, this.now());
        const at = this.now();
        switch (problem.kind) {
          case 'unaffordable':
            this.models.coolDown(model, 'unaffordable', at + UNAFFORDABLE_RETRY_MS, self.economy.available);
            continue;
          case 'rate-limited': {
            // The gateway's limits are the agent's: a cheaper model would be refused the same way.
            const agentWide = problem.code !== undefined && AGENT_WIDE_LIMITS.has(problem.code);
            const until = at + (problem.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
            for (const cooled of agentWide ? ordered : [model]) this.models.coolDown(cooled, 'rate-limited', until);
            if (agentWide) return this.stuck(perception);
            continue;
          }
          case 'no-upstream':
            this.models.coolDown(model, 'no-upstream', at + (problem.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS));
            continue;
          case 'not-allowed':
            this.models.refuse(model);
            if (!this.refusedModels.has(model)) {
              this.refusedModels.add(model);
              this.log.warn('decide', `the gateway does not allow ${model} for this agent (${problem.message})`, {
                loop: perception.loop,
                model,
                status: problem.status,
              });
            }
            continue;
          case 'paused':
            return this.pause(perception, problem);
          case 'unreachable':
          case 'refused':
            this.trouble(perception, problem, `asking ${model}`);
            return this.habit(perception);
        }
      }
      return this.thought(perception, model, completion, now);
    }
    return this.stuck(perception);
  }

  async reflect(perception: Perception, outcomes: readonly IntentOutcome[]): Promise<void> {
    for (const outcome of outcomes) {
      const line = outcomeLine(outcome, perception);
      if (line) this.memory.add(line.kind, line.text, line.place);
      const result = toolResultText(outcome);
      if (result) this.toolResults.push(result);
    }
    if (this.toolResults.length > TOOL_RESULTS_KEPT)
      this.toolResults.splice(0, this.toolResults.length - TOOL_RESULTS_KEPT);
    if (this.turn === 'scripted') await this.fallback.reflect(perception, outcomes);
  }

  /** A previous runtime's notes (a replaced container): the newest go back into memory. */
  recall(memory: RecalledMemory): void {
    for (const note of memory.notes.slice(-RECALLED_NOTES)) this.memory.add('note', `before: ${note}`);
    this.fallback.recall?.(memory);
  }

  /**
   * The scripted brain decides this loop, with the mail the model has not seen yet (it answers what
   * it answers, so the model is not asked about it again; the memory keeps a line of each).
   */
  private habit(perception: Perception): Intent[] | Promise<Intent[]> {
    this.turn = 'scripted';
    const mail = this.pendingMail;
    this.pendingMail = [];
    return this.fallback.decide(mail.length === perception.mail.length ? perception : { ...perception, mail });
  }

  /** Notes what is new in this perception: mail, arrivals, company, money. */
  private observe({ self, world, mail }: Perception): void {
    for (const item of mail) {
      if (this.seenMail.has(item.cursor)) continue;
      this.seenMail.add(item.cursor);
      if (this.seenMail.size > SEEN_MAIL_KEPT) this.seenMail.delete(this.seenMail.values().next().value!);
      this.memory.add('mail', mailLine(item, self.id, MAIL_MEMORY_CHARS));
      this.pendingMail.push(item);
    }
    if (this.pendingMail.length > PENDING_MAIL_KEPT)
      this.pendingMail.splice(0, this.pendingMail.length - PENDING_MAIL_KEPT);

    if (!self.walking) {
      const place = self.landmark ? world.landmarks.find((landmark) => landmark.id === self.landmark) : undefined;
      if (place && place.id !== this.notedPlace) this.memory.add('saw', `arrived at ${place.name}`, place.name);
      this.notedPlace = place?.id ?? null;
      const company = place
        ? world.agents
            .filter((agent) => agent.id !== self.id && agent.status.online && agent.landmark === place.id)
            .map((agent) => agent.displayName)
            .sort()
            .join(', ')
        : '';
      if (place && company && company !== this.notedCompany) this.memory.add('saw', `${company} at ${place.name}`);
      this.notedCompany = company;
    }

    const { balance, tier } = self.economy;
    const before = this.notedBalance;
    if (before && (before.balance !== balance || before.tier !== tier.name)) {
      const tierNote = before.tier !== tier.name ? `, tier ${before.tier} → ${tier.name}` : '';
      this.memory.add(
        'note',
        `balance ${formatAiDollars(before.balance)} → ${formatAiDollars(balance)} aiDollars${tierNote}`,
      );
    }
    this.notedBalance = { balance, tier: tier.name };
  }

  private async listModels(perception: Perception): Promise<'ok' | 'paused' | 'trouble' | 'stopping'> {
    try {
      this.models.setListed(perception.loop, await this.gateway.listModels(this.signal));
      return 'ok';
    } catch (error) {
      if (this.signal?.aborted) return 'stopping';
      const problem = classifyGatewayError(error, this.now());
      if (problem.kind === 'paused') {
        this.pause(perception, problem);
        return 'paused';
      }
      // A limit or a busy gateway on the listing: the last list is still good.
      const last = this.models.listedModels();
      if (last && (problem.kind === 'rate-limited' || problem.kind === 'no-upstream')) {
        this.models.setListed(perception.loop, last);
        return 'ok';
      }
      this.models.listingFailed();
      this.trouble(perception, problem, 'listing the models');
      return 'trouble';
    }
  }

  /**
   * The least time between two thoughts: what one costs (on average) over the tier's LLM tokens an
   * hour, so the agent spreads its thinking over the hour instead of running into the limit (429).
   */
  private pacingMs({ self }: Perception): number {
    const perHour = self.economy.entitlements.llmTokensPerHour;
    if (!this.tokensPerCall || perHour <= 0) return 0;
    return Math.round((3_600_000 * this.tokensPerCall) / perHour);
  }

  /** The model answered: its tool calls become intents; a bad one is refused into memory. */
  private thought(perception: Perception, model: string, completion: ChatCompletion, startedAt: number): Intent[] {
    this.turn = 'llm';
    this.refusedModels.delete(model);
    this.lastThoughtAt = startedAt;
    this.troubleFailures = 0;
    this.pendingMail = [];
    this.toolResults = [];
    const total = completion.usage?.total_tokens;
    if (typeof total === 'number' && total > 0) {
      this.tokensPerCall = this.tokensPerCall === undefined ? total : 0.7 * this.tokensPerCall + 0.3 * total;
    }
    if (this.state !== 'ok' && this.state !== 'starting') {
      this.log.info('decide', { loop: perception.loop, message: `thinking with ${model} again`, after: this.state });
    }
    this.state = 'ok';

    const calls = completion.choices?.[0]?.message?.tool_calls ?? [];
    this.log.info('decide', {
      loop: perception.loop,
      model,
      tools: calls.map((call) => (call.type === 'function' ? call.function.name : call.type)),
      promptTokens: completion.usage?.prompt_tokens,
      completionTokens: completion.usage?.completion_tokens,
    });
    if (calls.length === 0) {
      this.memory.add('refused', 'you answered in words; act only by calling tools');
      return [idle('no tool call')];
    }
    const intents: Intent[] = [];
    for (const call of calls) {
      const result =
        call.type !== 'function'
          ? { ok: false as const, message: `${call.type} tool calls are not understood; use the functions` }
          : intents.length >= MAX_TOOL_CALLS_PER_LOOP
            ? {
                ok: false as const,
                message: `${call.function.name}: at most ${MAX_TOOL_CALLS_PER_LOOP} actions a turn`,
              }
            : intentFromToolCall(
                { name: call.function.name, arguments: call.function.arguments },
                perception.world.landmarks,
              );
      if (result.ok) {
        intents.push(result.intent);
        continue;
      }
      this.memory.add('refused', result.message);
      this.log.warn('decide', `a tool call of the model was refused: ${result.message}`, {
        loop: perception.loop,
        model,
        tool: call.type === 'function' ? call.function.name : call.type,
      });
    }
    return intents.length > 0 ? intents : [idle('its tool calls were refused')];
  }

  /** Every allowed model was refused or is cooling: idle if it is money or limits, the scripted brain if upstreams. */
  private stuck(perception: Perception): Intent[] | Promise<Intent[]> {
    const ordered = this.models.ordered(perception.self.economy.entitlements.models);
    if (ordered.length === 0) return this.noModels(perception);
    const cooling = this.models.coolingOf(ordered);
    const why = cooling.map(({ model, reason }) => `${model}: ${reason}`).join(', ');
    if (cooling.some(({ reason }) => reason === 'no-upstream')) {
      if (this.enter('no-upstream')) {
        this.log.error(
          'decide',
          `no upstream answers for the models this agent may use (${why}): the scripted brain decides until one does`,
          { loop: perception.loop, models: ordered },
        );
        this.memory.add('note', 'could not think (no upstream answers); acting on habit');
      }
      return this.habit(perception);
    }
    const until = Math.min(...cooling.map((entry) => entry.until));
    if (this.enter('waiting')) {
      this.log.warn('decide', `no model can be used now (${why}): idling until one can`, {
        loop: perception.loop,
        models: ordered,
        available: perception.self.economy.available,
        retryInMs: Number.isFinite(until) ? Math.max(0, until - this.now()) : undefined,
      });
      this.memory.add('note', `could not think now (${why}); resting`);
    }
    return [idle('no model I can use now')];
  }

  private noModels(perception: Perception): Intent[] | Promise<Intent[]> {
    if (this.enter('no-models')) {
      const listed = this.models.listedModels() ?? [];
      const what = this.preference
        ? `none of VILLAGE_AGENT_MODELS (${this.preference.join(', ')}) is among the models the gateway lists (${listed.join(', ') || 'none'})`
        : `the gateway lists no model this agent may use (tier ${perception.self.economy.tier.name})`;
      this.log.warn(
        'decide',
        `VILLAGE_AGENT_BRAIN is llm but ${what}: the scripted brain decides until one is listed (asking again every few loops)`,
        { loop: perception.loop, listed },
      );
    }
    return this.habit(perception);
  }

  private pause(perception: Perception, problem: GatewayProblem): Intent[] {
    const waitMs = problem.retryAfterMs ?? PAUSE_MS;
    this.pausedUntil = this.now() + waitMs;
    if (this.enter('paused')) {
      this.log.warn('decide', `the village's loop breaker paused this agent (${problem.message}): idling`, {
        loop: perception.loop,
        retryInMs: waitMs,
      });
      this.memory.add('note', 'paused by the village for spending too fast; resting');
    }
    return [idle('paused by the loop breaker')];
  }

  /** The gateway failed outright: say so once, and leave it alone for a while (the scripted brain decides). */
  private trouble(perception: Perception, problem: GatewayProblem, doing: string): void {
    this.troubleFailures++;
    const backoff = Math.min(TROUBLE_MAX_WAIT_MS, TROUBLE_FIRST_WAIT_MS * 2 ** (this.troubleFailures - 1));
    const waitMs = Math.max(backoff, problem.retryAfterMs ?? 0);
    this.troubleUntil = this.now() + waitMs;
    const state: State = problem.kind === 'unreachable' ? 'unreachable' : 'refused';
    if (this.enter(state)) {
      const what =
        problem.kind === 'unreachable'
          ? `the LLM gateway at ${this.gateway.options.baseURL} is unreachable`
          : `the LLM gateway refused ${doing}`;
      this.log.error('decide', `${what} (${problem.message}): the scripted brain decides until it answers`, {
        loop: perception.loop,
        status: problem.status,
        retryInMs: waitMs,
      });
      this.memory.add('note', 'could not think (the gateway is down); acting on habit');
    }
  }

  /** Moves to a state; true when it is a change (the caller then logs one line). */
  private enter(state: State): boolean {
    if (this.state === state) return false;
    this.state = state;
    return true;
  }
}

/** The loop breaker's reason while it holds the agent's LLM calls (`economy.computePaused`), else null. */
function computePausedOf({ self }: Perception): string | null {
  const paused = self.economy.computePaused;
  return paused ? paused.reason || 'by the loop breaker' : null;
}

function idle(why: string): Intent {
  return { kind: 'idle', why };
}

/** What an outcome leaves in memory; idles and skipped intents leave nothing. */
function outcomeLine(
  outcome: IntentOutcome,
  perception: Perception,
): { kind: MemoryKind; text: string; place?: string } | undefined {
  const { intent } = outcome;
  if (outcome.status === 'skipped' || intent.kind === 'idle') return undefined;
  const what = describe(intent, perception);
  if (outcome.status === 'rejected') return { kind: 'refused', text: `${what}: ${outcome.message}` };
  if (outcome.status === 'failed') return { kind: 'failed', text: `${what}: ${outcome.message}` };
  switch (intent.kind) {
    case 'say':
      return { kind: 'said', text: `"${intent.text}"` };
    case 'move': {
      const place = 'landmark' in intent.to ? placeName(intent.to.landmark, perception) : undefined;
      const how = outcome.move
        ? ` (${outcome.move.outcome}${outcome.move.eta > 0 ? `, ${outcome.move.eta} ticks` : ''})`
        : '';
      return { kind: 'did', text: `${what}${how}`, ...(place ? { place } : {}) };
    }
    case 'post':
      return { kind: 'did', text: `posted #${outcome.post?.id ?? '?'} "${clip(intent.title, 80)}"` };
    case 'reply':
      return { kind: 'did', text: `replied on post #${intent.postId}: "${clip(intent.body, 80)}"` };
    default:
      return { kind: 'did', text: what };
  }
}

function describe(intent: Intent, perception: Perception): string {
  switch (intent.kind) {
    case 'move':
      if ('landmark' in intent.to) return `walk to ${placeName(intent.to.landmark, perception)}`;
      if ('x' in intent.to) return `walk to ${intent.to.x},${intent.to.y}`;
      return `step ${intent.to.dx},${intent.to.dy}`;
    case 'say':
      return `say "${clip(intent.text, 60)}"`;
    case 'emote':
      return `emote ${intent.emote}`;
    case 'post':
      return `post "${clip(intent.title, 60)}"`;
    case 'reply':
      return `reply on post #${intent.postId}`;
    case 'resolve':
      return `resolve post #${intent.postId}`;
    case 'idle':
      return 'idle';
    case 'tool':
      return `${intent.call.tool} ${toolGist(intent.call.input)}`;
  }
}

/** `GET https://example.org/`, `ls -la`, `read notes.md`: what a tool call was about, briefly. */
function toolGist(input: unknown): string {
  if (typeof input !== 'object' || input === null) return '';
  const fields = input as Record<string, unknown>;
  const parts = [fields.method, fields.op, fields.action, fields.command, fields.url, fields.path, fields.selector];
  return clip(parts.filter((part) => typeof part === 'string').join(' '), 80);
}

/** A tool call's answer as the model reads it next turn. */
function toolResultText(outcome: IntentOutcome): string | undefined {
  if (outcome.intent.kind !== 'tool' || outcome.status === 'skipped' || outcome.status === 'failed') return undefined;
  const run = outcome.tool;
  if (!run) return undefined;
  const head = `${outcome.intent.call.tool} ${toolGist(outcome.intent.call.input)}: ${run.ok ? 'ok' : `failed: ${run.error ?? ''}`}`;
  const body = run.output.length > TOOL_RESULT_CHARS ? `${run.output.slice(0, TOOL_RESULT_CHARS)}…` : run.output;
  return body ? `${head}\n${body}` : head;
}

function placeName(id: string, perception: Perception): string {
  return perception.world.landmarks.find((landmark) => landmark.id === id)?.name ?? id;
}
