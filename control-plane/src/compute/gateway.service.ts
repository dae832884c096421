import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import type pg from 'pg';
import type { Logger } from 'pino';
import { agentAccount, formatAiDollars, type AgentEconomy, type ChatCompletionRequest } from '../contract/index.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { isTransientDatabaseError } from '../database/transient-error.js';
import { AgentEconomyCache } from '../economy/agent-economy-cache.service.js';
import { AgentRequestLimiter, rateRefusalMessage } from '../economy/agent-rate-limit.interceptor.js';
import { TiersService } from '../economy/tiers.service.js';
import { InsufficientFundsException } from '../ledger/ledger-errors.js';
import { LedgerService, moved, type TransferResult, type TransferSource } from '../ledger/ledger.service.js';
import { LOGGER } from '../logging/logger.js';
import { recordLedgerTransfer, recordLlmCall } from '../metrics/instruments.js';
import { AdmissionQueue } from './admission-queue.service.js';
import { GatewayLimits } from './gateway-limits.service.js';
import { LlmPrices } from './llm-prices.service.js';
import { describeUpstreamError, LlmUpstreams, type Upstream } from './llm-upstreams.service.js';
import { LoopBreaker } from './loop-breaker.service.js';
import { OpenAiError, openAiErrorBody } from './openai-errors.js';
import { sseData } from './sse-events.js';
import { estimatePromptTokens, estimateTextTokens } from './token-estimate.js';

/** A call that passed every check: what it may use, what was reserved, and where it goes. */
interface Admitted {
  requestId: string;
  agentId: string;
  model: string;
  stream: boolean;
  maxTokens: number;
  promptEstimate: number;
  hour: number;
  commons: boolean;
  hold: { id: number; amount: number; expiresAt: number } | null;
  tier: number;
  leaseMs: number;
  upstream: Upstream;
  queuedMs: number;
  startedAt: number;
  leasesReleased?: boolean;
}

interface Refusal {
  status: number;
  code: string;
  message: string;
  timeout: boolean;
  retryAfterS: number | undefined;
}

interface Outcome {
  status: 'ok' | 'client_disconnected' | 'upstream_error' | 'timeout';
  usage?: { prompt: number; completion: number };
  /** Text delivered when the upstream's usage never came (a stream that broke off). */
  deliveredText?: string;
  error?: string;
}

/** A hold this close to its expiry is not settled (the sweeper may release it meanwhile). */
const HOLD_EXPIRY_MARGIN_MS = 5_000;

/** How long a call's bill is tried again while the database is unreachable. */
const SETTLEMENT_RETRY_MS = 120_000;

/**
 * The OpenAI-compatible gateway: every agent's LLM call. In order: the model must be served and
 * allowed by the agent's tier (404 / 403); the agent's requests/min, tokens/hour and concurrent calls
 * are counted in Redis (429 + Retry-After); a ledger hold reserves the worst-case price (402 when the
 * balance cannot cover it) unless the call fits in the free commons allowance; then a slot on the
 * least loaded upstream, or a place in the tier-ordered queue. The upstream is read to its end even
 * when the client leaves, and the call is billed once, from the usage the upstream reports.
 */
@Injectable()
export class GatewayService {
  constructor(
    private readonly upstreams: LlmUpstreams,
    private readonly prices: LlmPrices,
    private readonly limits: GatewayLimits,
    private readonly queue: AdmissionQueue,
    private readonly tiers: TiersService,
    private readonly economies: AgentEconomyCache,
    private readonly limiter: AgentRequestLimiter,
    private readonly ledger: LedgerService,
    private readonly loopBreaker: LoopBreaker,
    private readonly database: DatabaseService,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The models the agent's tier allows that some upstream serves. */
  async models(agentId: string): Promise<string[]> {
    const { entitlements } = await this.economies.economyOf(agentId);
    const served = this.upstreams.servedModels();
    return entitlements.models.filter((model) => served.has(model));
  }

  async complete(agentId: string, body: ChatCompletionRequest, response: Response): Promise<void> {
    const admitted = await this.admit(agentId, body);
    const outcome = admitted.stream
      ? await this.forwardStream(admitted, body, response)
      : await this.forward(admitted, body, response);
    await this.settle(admitted, outcome);
  }

  private async admit(agentId: string, body: ChatCompletionRequest): Promise<Admitted> {
    const requestId = `llm_${randomUUID()}`;
    const economy = await this.economies.economyOf(agentId);
    if (economy.computePaused) {
      throw new OpenAiError(
        403,
        'agent_paused',
        `agent ${agentId}'s LLM calls are paused by the loop breaker (${economy.computePaused.reason}); a moderator can resume them`,
      );
    }
    const model = body.model;
    const { entitlements } = economy;
    if (!this.upstreams.servedModels().has(model)) {
      const served = [...this.upstreams.servedModels()].filter((name) => entitlements.models.includes(name));
      throw new OpenAiError(
        404,
        'model_not_found',
        this.upstreams.all().length === 0
          ? `no LLM upstream is configured, so there is no model "${model}" (set VILLAGE_LLM_UPSTREAMS)`
          : `the model "${model}" is not served here; your tier may use: ${served.join(', ') || 'none of the served models'}`,
        undefined,
        'model',
      );
    }
    if (!entitlements.models.includes(model)) {
      throw new OpenAiError(
        403,
        'model_not_allowed',
        `the model "${model}" is not allowed in the ${economy.tier.name} tier (tier ${economy.tier.level}); ` +
          `allowed: ${entitlements.models.join(', ') || 'none'}`,
        undefined,
        'model',
      );
    }
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? this.config.VILLAGE_LLM_DEFAULT_MAX_TOKENS;
    if (maxTokens > entitlements.llmTokensPerHour) {
      throw new OpenAiError(
        400,
        'max_tokens_beyond_tier',
        `max_tokens ${maxTokens} is more than the ${entitlements.llmTokensPerHour} tokens an hour of the ${economy.tier.name} tier`,
        undefined,
        'max_tokens',
      );
    }
    const refusal = await this.limiter.take(agentId);
    if (refusal)
      throw new OpenAiError(429, 'rate_limit_exceeded', rateRefusalMessage(agentId, refusal), refusal.retryAfterS);

    const candidates = this.upstreams.candidatesFor(model);
    const leaseMs =
      Math.max(...candidates.map((candidate) => candidate.timeoutMs)) + this.config.VILLAGE_LLM_LEASE_MARGIN_MS;
    const promptEstimate = estimatePromptTokens(body);
    const tokens = promptEstimate + maxTokens;
    const admission = await this.limits.admit(
      agentId,
      {
        tokens,
        tokensPerHour: entitlements.llmTokensPerHour,
        concurrentCalls: entitlements.concurrentLlmCalls,
        leaseId: requestId,
        leaseMs,
        commonsPerHour: this.config.VILLAGE_LLM_COMMONS_TOKENS_PER_HOUR,
      },
      candidates,
    );
    if (!admission.admitted) {
      const retryAfterS = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
      throw new OpenAiError(
        429,
        admission.reason === 'tokens' ? 'tokens_per_hour_exceeded' : 'concurrency_exceeded',
        admission.reason === 'tokens'
          ? `this call may use ${tokens} tokens, more than is left of the ${entitlements.llmTokensPerHour} tokens an hour of the ${economy.tier.name} tier; try again in ${retryAfterS} s`
          : `agent ${agentId} already has ${entitlements.concurrentLlmCalls} LLM calls in flight, the most its tier allows; try again in ${retryAfterS} s`,
        retryAfterS,
      );
    }
    // The upstream slot taken with the admission, if any; else the call waits in the queue for one.
    let upstream = admission.upstream;
    let hold: Admitted['hold'] = null;
    try {
      if (!admission.commons) hold = await this.reserve(economy, model, promptEstimate, maxTokens, requestId, leaseMs);
      const queuedAt = Date.now();
      upstream ??= await this.queuedUpstream(model, requestId, leaseMs, economy.tier.level);
      return {
        requestId,
        agentId,
        model,
        stream: body.stream === true,
        maxTokens,
        promptEstimate,
        hour: admission.hour,
        commons: admission.commons,
        hold,
        tier: economy.tier.level,
        leaseMs,
        upstream,
        queuedMs: Date.now() - queuedAt,
        startedAt: Date.now(),
      };
    } catch (error) {
      await this.limits.release(agentId, {
        leaseId: requestId,
        hour: admission.hour,
        unusedTokens: tokens,
        commons: admission.commons,
        upstream: upstream?.name,
      });
      if (hold) await this.releaseHold(hold.id, requestId);
      throw error;
    }
  }

  /** A hold for the worst case: the prompt estimate plus every token the call may write. */
  private async reserve(
    economy: AgentEconomy,
    model: string,
    promptTokens: number,
    maxTokens: number,
    requestId: string,
    leaseMs: number,
  ): Promise<Admitted['hold']> {
    const amount = await this.prices.priceOf(model, promptTokens, maxTokens);
    if (amount === 0) return null;
    const expiresAt = Date.now() + leaseMs + this.config.VILLAGE_LLM_QUEUE_TIMEOUT_MS;
    try {
      const held = await this.ledger.placeHold({
        debit: agentAccount(economy.agentId),
        credit: 'compute_revenue',
        amount,
        reason: 'compute_purchase',
        memo: `LLM call ${requestId} (${model})`,
        source: { type: 'system', id: 'gateway' },
        metadata: { requestId, model, promptEstimate: promptTokens, maxTokens },
        idempotencyKey: `llm-hold:${requestId}`,
        expiresAt: new Date(expiresAt),
      });
      // Not announced: a hold changes only what is available, and its settlement moments later
      // announces the balance; an event per hold too would double the stream's traffic per call.
      recordLedgerTransfer(held.transfer);
      return { id: held.transfer.id, amount, expiresAt };
    } catch (error) {
      if (error instanceof InsufficientFundsException) {
        const { available } = await this.tiers.economyOf(economy.agentId);
        throw new OpenAiError(
          402,
          'insufficient_quota',
          `this call may cost up to ${formatAiDollars(amount)} aiDollars (${promptTokens} prompt tokens estimated + max_tokens ${maxTokens} of ${model}); ` +
            `agent ${economy.agentId} has ${formatAiDollars(available)} available. Ask for fewer max_tokens, a cheaper model, or earn more`,
        );
      }
      throw error;
    }
  }

  private async queuedUpstream(model: string, requestId: string, leaseMs: number, tier: number): Promise<Upstream> {
    const name = await this.queue.wait({ requestId, model, tier, leaseMs });
    return this.upstreams.all().find((upstream) => upstream.name === name)!;
  }

  /** Another upstream after a connection failure, if one has room; the failed one's slot is given back. */
  private async failOver(admitted: Admitted, tried: Set<string>, error: unknown): Promise<boolean> {
    const failed = admitted.upstream.name;
    this.upstreams.markDown(failed, describeUpstreamError(error));
    await this.limits.releaseUpstream(failed, admitted.requestId);
    const rest = this.upstreams.candidatesFor(admitted.model).filter((candidate) => !tried.has(candidate.name));
    const next = await this.limits.acquireUpstream(rest, admitted.requestId, admitted.leaseMs);
    if (!next) return false;
    admitted.upstream = next as Upstream;
    tried.add(next.name);
    return true;
  }

  private upstreamBody(admitted: Admitted, body: ChatCompletionRequest) {
    const limit =
      body.max_completion_tokens === undefined && body.max_tokens === undefined
        ? { max_tokens: admitted.maxTokens }
        : {};
    return { ...body, ...limit, model: admitted.model };
  }

  /** A non-streaming call: the upstream's answer as it is, or an OpenAI error. */
  private async forward(admitted: Admitted, body: ChatCompletionRequest, response: Response): Promise<Outcome> {
    const tried = new Set([admitted.upstream.name]);
    for (;;) {
      try {
        const completion = await admitted.upstream.client.chat.completions.create({
          ...(this.upstreamBody(admitted, body) as OpenAI.ChatCompletionCreateParamsNonStreaming),
          stream: false,
        });
        if (!completion || typeof completion !== 'object' || !Array.isArray(completion.choices)) {
          throw new GarbageError('the answer is not a chat completion');
        }
        this.upstreams.markUp(admitted.upstream.name);
        const usage = completion.usage;
        const outcome: Outcome = usage
          ? { status: 'ok', usage: { prompt: usage.prompt_tokens, completion: usage.completion_tokens } }
          : { status: 'ok', deliveredText: textOf(completion) };
        await this.releaseLeases(admitted, outcome);
        response.setHeader('X-Village-Upstream', admitted.upstream.name);
        response.status(200).json(completion);
        return outcome;
      } catch (error) {
        if (isConnectionFailure(error) && (await this.failOver(admitted, tried, error))) continue;
        const refusal = this.upstreamRefusal(admitted, error, tried);
        const outcome: Outcome = { status: refusal.timeout ? 'timeout' : 'upstream_error', error: refusal.message };
        await this.releaseLeases(admitted, outcome);
        if (!response.headersSent) {
          if (refusal.retryAfterS !== undefined) response.setHeader('Retry-After', String(refusal.retryAfterS));
          response.status(refusal.status).json(openAiErrorBody(refusal.status, refusal.message, refusal.code));
        }
        return outcome;
      }
    }
  }

  /**
   * A streaming call: chunks pass through as they come. Usage is always asked of the upstream; it
   * reaches the client only if the client asked for it. When the client leaves, the upstream is still
   * read to its end, so that what was used is known and billed.
   */
  private async forwardStream(admitted: Admitted, body: ChatCompletionRequest, response: Response): Promise<Outcome> {
    const wantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    let clientGone = false;
    response.on('close', () => {
      if (!response.writableFinished) clientGone = true;
    });
    const send = (data: string) => {
      if (!clientGone) response.write(`data: ${data}\n\n`);
    };
    const tried = new Set([admitted.upstream.name]);
    let delivered = '';
    let usage: Outcome['usage'];
    let started = false;
    const renew = setInterval(
      () =>
        void this.limits
          .renew(admitted.agentId, admitted.upstream.name, admitted.requestId, admitted.leaseMs)
          .catch(() => undefined),
      Math.max(1000, admitted.leaseMs / 3),
    );
    try {
      for (;;) {
        const abort = new AbortController();
        let idle: NodeJS.Timeout | undefined;
        const resetIdle = () => {
          clearTimeout(idle);
          idle = setTimeout(
            () => abort.abort(new StallError(admitted.upstream.timeoutMs)),
            admitted.upstream.timeoutMs,
          );
        };
        try {
          resetIdle();
          // The raw response (the client still checks the status, retries and maps errors): its events
          // are passed on as the upstream wrote them, read only for usage, text and garbage.
          const upstreamResponse = await admitted.upstream.client.chat.completions
            .create(
              {
                ...(this.upstreamBody(admitted, body) as OpenAI.ChatCompletionCreateParamsStreaming),
                stream: true,
                stream_options: { include_usage: true },
              },
              { signal: abort.signal, timeout: admitted.upstream.timeoutMs },
            )
            .asResponse();
          if (!upstreamResponse.body) throw new GarbageError('the stream has no body');
          for await (const events of sseData(upstreamResponse.body)) {
            resetIdle();
            response.cork();
            for (const data of events) {
              if (data.startsWith('[DONE]')) continue;
              const chunk = JSON.parse(data) as OpenAI.ChatCompletionChunk & { error?: unknown };
              if (chunk && typeof chunk === 'object' && chunk.error) {
                throw new OpenAI.APIError(undefined, chunk.error as object, undefined, upstreamResponse.headers);
              }
              if (!chunk || typeof chunk !== 'object' || !Array.isArray(chunk.choices)) {
                throw new GarbageError('a stream chunk is not a chat completion chunk');
              }
              if (!started) {
                started = true;
                this.upstreams.markUp(admitted.upstream.name);
                response.status(200);
                response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
                response.setHeader('Cache-Control', 'no-cache');
                response.setHeader('X-Village-Upstream', admitted.upstream.name);
                response.flushHeaders();
              }
              for (const choice of chunk.choices) delivered += choice.delta?.content ?? '';
              if (!chunk.usage) {
                send(data);
                continue;
              }
              usage = { prompt: chunk.usage.prompt_tokens, completion: chunk.usage.completion_tokens };
              if (wantsUsage) send(data);
              else if (chunk.choices.length > 0) send(JSON.stringify({ ...chunk, usage: undefined }));
            }
            response.uncork();
          }
          clearTimeout(idle);
          const outcome: Outcome = usage
            ? { status: clientGone ? 'client_disconnected' : 'ok', usage }
            : { status: clientGone ? 'client_disconnected' : 'ok', deliveredText: delivered };
          await this.releaseLeases(admitted, outcome);
          send('[DONE]');
          if (!response.writableEnded) response.end();
          return outcome;
        } catch (error) {
          clearTimeout(idle);
          const cause = abort.signal.aborted ? abort.signal.reason : error;
          if (!started && isConnectionFailure(cause) && (await this.failOver(admitted, tried, cause))) continue;
          const refusal = this.upstreamRefusal(admitted, cause, tried, started);
          const outcome: Outcome = {
            status: refusal.timeout ? 'timeout' : 'upstream_error',
            error: refusal.message,
            ...(usage ? { usage } : { deliveredText: delivered }),
          };
          await this.releaseLeases(admitted, outcome);
          if (!started) {
            if (!response.headersSent) {
              if (refusal.retryAfterS !== undefined) response.setHeader('Retry-After', String(refusal.retryAfterS));
              response.status(refusal.status).json(openAiErrorBody(refusal.status, refusal.message, refusal.code));
            }
          } else {
            // Mid-stream the status is sent: say what broke in the stream, as OpenAI does, and end it.
            send(JSON.stringify(openAiErrorBody(refusal.status, refusal.message, refusal.code)));
            if (!response.writableEnded) response.end();
          }
          return outcome;
        }
      }
    } finally {
      clearInterval(renew);
    }
  }

  /** What to tell the client when an upstream failed, and make it loud when none answers. */
  private upstreamRefusal(admitted: Admitted, error: unknown, tried: Set<string>, midStream = false): Refusal {
    const name = admitted.upstream.name;
    if (error instanceof StallError || error instanceof OpenAI.APIConnectionTimeoutError) {
      return {
        status: 504,
        code: 'upstream_timeout',
        message: `upstream ${name} did not answer model "${admitted.model}" within ${admitted.upstream.timeoutMs} ms`,
        timeout: true,
        retryAfterS: undefined,
      };
    }
    if (error instanceof GarbageError || error instanceof SyntaxError) {
      this.upstreams.markDown(name, `answered garbage: ${error.message}`);
      return {
        status: 502,
        code: 'bad_upstream_response',
        message: `upstream ${name} answered something that is not an OpenAI response (${error.message})`,
        timeout: false,
        retryAfterS: undefined,
      };
    }
    if (error instanceof OpenAI.APIError && error.status) {
      const status = error.status;
      if (status === 401 || status === 403) {
        // The upstream refused the gateway's key, not the agent: an operator's problem, said as such.
        this.upstreams.markDown(name, `refused the gateway's API key (${status})`);
        return {
          status: 502,
          code: 'upstream_error',
          message: `upstream ${name} refused the village's API key (${status}); an admin must fix its apiKey`,
          timeout: false,
          retryAfterS: undefined,
        };
      }
      if (status === 429) {
        return {
          status: 503,
          code: 'upstream_busy',
          message: `upstream ${name} is over its own rate limit; try again shortly`,
          timeout: false,
          retryAfterS: Number(error.headers?.get('retry-after')) || 5,
        };
      }
      return {
        // The client's request as the upstream saw it (400, 404, 422) is the client's to fix.
        status: status >= 500 ? 502 : status,
        code: 'upstream_error',
        message: `upstream ${name} refused the call: ${error.message}`,
        timeout: false,
        retryAfterS: undefined,
      };
    }
    if (midStream) {
      return {
        status: 502,
        code: 'upstream_dropped',
        message: `upstream ${name} broke off the stream of model "${admitted.model}": ${describeUpstreamError(error)}`,
        timeout: false,
        retryAfterS: undefined,
      };
    }
    const message = `no upstream answered for model "${admitted.model}" (tried ${[...tried].join(', ')}): ${describeUpstreamError(error)}`;
    this.logger.error({ agentId: admitted.agentId, model: admitted.model, tried: [...tried], err: error }, message);
    return { status: 503, code: 'no_upstream', message, timeout: false, retryAfterS: undefined };
  }

  /**
   * Ends the call's leases (its concurrency slot and the upstream's) and puts back the tokens it did
   * not use, before its last bytes go out: a client that sends its next call at once finds them free.
   */
  private async releaseLeases(admitted: Admitted, outcome: Outcome): Promise<void> {
    if (admitted.leasesReleased) return;
    admitted.leasesReleased = true;
    const { promptTokens, completionTokens } = tokensOf(admitted, outcome);
    const unused = admitted.promptEstimate + admitted.maxTokens - promptTokens - completionTokens;
    await this.limits
      .release(admitted.agentId, {
        leaseId: admitted.requestId,
        hour: admitted.hour,
        unusedTokens: unused,
        commons: admitted.commons,
        upstream: admitted.upstream.name,
      })
      .catch((error: unknown) =>
        this.logger.warn({ err: error }, 'releasing LLM call leases (they lapse on their own)'),
      );
  }

  /** Bills the call once: one usage record and the hold settled to the real price, together. */
  private async settle(admitted: Admitted, outcome: Outcome): Promise<void> {
    await this.releaseLeases(admitted, outcome);
    const tokens = tokensOf(admitted, outcome);
    const usage = (charged: number, holdId: number | null) => [
      admitted.requestId,
      admitted.agentId,
      admitted.model,
      admitted.upstream.name,
      admitted.stream,
      tokens.promptTokens,
      tokens.completionTokens,
      tokens.usageSource,
      charged,
      admitted.commons,
      holdId,
      outcome.status,
      outcome.error ?? null,
      admitted.queuedMs,
      Date.now() - admitted.startedAt,
    ];
    const { charged, transfers } = await this.billThroughOutages(admitted, tokens, usage);
    // A replay (settled before) stands as first settled, and was announced then.
    for (const transfer of transfers) await this.ledger.announce(transfer);
    recordLlmCall({
      ...admitted,
      upstream: admitted.upstream.name,
      status: outcome.status,
      promptTokens: tokens.promptTokens,
      completionTokens: tokens.completionTokens,
      charged,
    });
    await this.loopBreaker.recordSpend(admitted.agentId, charged);
  }

  /**
   * Bills the call, trying again while the database is unreachable (a restart, a failover, a crash):
   * the answer is out, and a call never billed would be free and missing from usage. Every try is
   * idempotent (the settlement's and the direct charge's keys, the usage record's request id), and a
   * try after a failed one first looks for the usage record that one may have committed unacknowledged.
   */
  private async billThroughOutages(
    admitted: Admitted,
    tokens: ReturnType<typeof tokensOf>,
    usage: (charged: number, holdId: number | null) => unknown[],
  ): Promise<{ charged: number; transfers: TransferResult[] }> {
    const deadline = Date.now() + SETTLEMENT_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt > 0) {
          const { rows } = await this.database.query<{ price: string }>(
            'SELECT price FROM llm_usage WHERE request_id = $1',
            [admitted.requestId],
          );
          if (rows[0]) return { charged: Number(rows[0].price), transfers: [] };
        }
        const cost = admitted.commons
          ? 0
          : await this.prices.priceOf(admitted.model, tokens.promptTokens, tokens.completionTokens);
        return await this.bill(admitted, cost, tokens, usage);
      } catch (error) {
        const context = { err: error, requestId: admitted.requestId, agentId: admitted.agentId, attempt };
        if (!isTransientDatabaseError(error) || Date.now() >= deadline) {
          // What an operator needs to bill it by hand: the hold (if any) is released when it expires.
          this.logger.error({ ...context, model: admitted.model, ...tokens }, 'an LLM call could not be billed');
          throw error;
        }
        const delayMs = Math.min(250 * 2 ** attempt, 5_000);
        this.logger.warn(context, `billing an LLM call: the database is unreachable; trying again in ${delayMs} ms`);
        await sleep(delayMs);
      }
    }
  }

  /**
   * Records the usage and settles (or releases) the call's hold for what it cost. The usual case is
   * one statement, so the agent's ledger row stays locked for that statement and its commit only.
   * A call that cost more than its hold (the prompt was longer than estimated) is charged the rest,
   * at most what the agent has; a hold that lapsed, or that a database crash lost before anything
   * made it durable, is replaced by a direct charge.
   */
  private async bill(
    admitted: Admitted,
    cost: number,
    tokens: { promptTokens: number; completionTokens: number; usageSource: string },
    usage: (charged: number, holdId: number | null) => unknown[],
  ): Promise<{ charged: number; transfers: TransferResult[] }> {
    const hold = admitted.hold;
    if (!hold) {
      await this.database.query({
        name: 'llm-usage',
        text: usageInsert(1, '$16::bigint'),
        values: [...usage(0, null), null],
      });
      return { charged: 0, transfers: [] };
    }
    const command = {
      holdId: hold.id,
      idempotencyKey: `llm-settle:${admitted.requestId}`,
      source: { type: 'system' as const, id: 'gateway' },
      metadata: { requestId: admitted.requestId, ...tokens },
    };
    const fresh = Date.now() <= hold.expiresAt - HOLD_EXPIRY_MARGIN_MS;
    if (fresh && cost <= hold.amount) {
      try {
        const result = await this.ledger.resolveHoldRecording(
          { ...command, amount: cost },
          {
            name: 'llm-usage',
            sql: usageInsert(17, `(settled.transfer->>'id')::bigint`, 'FROM settled'),
            values: usage(cost, hold.id),
          },
        );
        return { charged: cost, transfers: result.recorded ? [result] : [] };
      } catch (error) {
        if (!(error instanceof NotFoundException)) throw error;
        this.logger.warn({ requestId: admitted.requestId, holdId: hold.id }, 'an LLM hold was lost; charging directly');
      }
    }
    return this.database.transaction(async (client) => {
      const transfers: TransferResult[] = [];
      // The hold pays what it can; else (lapsed, released by the sweeper, or lost) it is released if it is still there.
      await client.query('SAVEPOINT hold');
      let holdLost = false;
      const settled = await (
        fresh && cost > 0
          ? this.ledger.settleHoldWith(client, { ...command, amount: Math.min(cost, hold.amount) })
          : this.ledger.releaseHoldWith(client, command)
      ).catch(async (error: unknown) => {
        // Not found: a database crash lost it; anything else (already released) leaves it on record.
        holdLost = error instanceof NotFoundException;
        await client.query('ROLLBACK TO SAVEPOINT hold');
        return undefined;
      });
      if (settled) transfers.push(settled);
      const paid = settled ? moved(settled.transfer) : 0;
      const direct = await this.chargeDirectly(client, admitted, cost - paid, command);
      if (direct) transfers.push(direct);
      const charged = paid + (direct ? moved(direct.transfer) : 0);
      const { rowCount } = await client.query(usageInsert(1, '$16::bigint'), [
        ...usage(charged, holdLost ? null : hold.id),
        // The transfer that took the money (the settlement's first), else the hold's release.
        ((paid > 0 ? settled : direct) ?? settled)?.transfer.id ?? null,
      ]);
      return { charged, transfers: rowCount ? transfers : [] };
    });
  }

  /** What the hold did not pay for, charged straight from the agent: at most what it has. */
  private async chargeDirectly(
    client: pg.PoolClient,
    admitted: Admitted,
    amount: number,
    command: { source: TransferSource; metadata: Record<string, unknown> },
  ): Promise<TransferResult | undefined> {
    if (amount <= 0) return undefined;
    await client.query('SAVEPOINT direct_charge');
    try {
      return await this.ledger.transferWith(client, {
        debit: agentAccount(admitted.agentId),
        credit: 'compute_revenue',
        amount,
        reason: 'compute_purchase',
        memo: `LLM call ${admitted.requestId} (${admitted.model}), beyond its hold`,
        source: command.source,
        metadata: command.metadata,
        idempotencyKey: `llm-bill:${admitted.requestId}`,
        partial: true,
      });
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT direct_charge');
      this.logger.warn({ err: error, requestId: admitted.requestId }, 'could not charge an LLM call beyond its hold');
      return undefined;
    }
  }

  private async releaseHold(holdId: number, requestId: string) {
    await this.ledger
      .releaseHold({ holdId, idempotencyKey: `llm-settle:${requestId}`, source: { type: 'system', id: 'gateway' } })
      .catch((error: unknown) =>
        this.logger.warn({ err: error, holdId }, 'releasing an LLM hold (it will expire on its own)'),
      );
  }
}

/** llm_usage's columns as the gateway writes them, with their types (an INSERT ... SELECT needs them). */
const USAGE_COLUMNS = [
  ['request_id', 'text'],
  ['agent_id', 'text'],
  ['model', 'text'],
  ['upstream', 'text'],
  ['stream', 'boolean'],
  ['prompt_tokens', 'int'],
  ['completion_tokens', 'int'],
  ['usage_source', 'text'],
  ['price', 'bigint'],
  ['commons', 'boolean'],
  ['hold_id', 'bigint'],
  ['status', 'text'],
  ['error', 'text'],
  ['queued_ms', 'int'],
  ['latency_ms', 'int'],
] as const;

/** The one usage record of a call: its columns from parameter `first` on, then the transfer that paid for it. */
function usageInsert(first: number, transferId: string, from = ''): string {
  const values = USAGE_COLUMNS.map(([, type], index) => `$${first + index}::${type}`);
  return `INSERT INTO llm_usage (${USAGE_COLUMNS.map(([column]) => column).join(', ')}, transfer_id)
          SELECT ${values.join(', ')}, ${transferId} ${from} ON CONFLICT (request_id) DO NOTHING`;
}

/**
 * The tokens a call is billed for: what the upstream reported; else, for a call that delivered text
 * before it broke off, the prompt estimate and the text's; else nothing.
 */
function tokensOf(admitted: Admitted, outcome: Outcome) {
  if (outcome.usage) {
    return {
      promptTokens: outcome.usage.prompt,
      completionTokens: outcome.usage.completion,
      usageSource: 'upstream' as const,
    };
  }
  if (outcome.deliveredText) {
    return {
      promptTokens: admitted.promptEstimate,
      completionTokens: estimateTextTokens(outcome.deliveredText),
      usageSource: 'estimated' as const,
    };
  }
  return { promptTokens: 0, completionTokens: 0, usageSource: 'none' as const };
}

class StallError extends Error {
  constructor(ms: number) {
    super(`no data for ${ms} ms`);
  }
}

class GarbageError extends Error {}

function isConnectionFailure(error: unknown): boolean {
  return error instanceof OpenAI.APIConnectionError && !(error instanceof OpenAI.APIConnectionTimeoutError);
}

function textOf(completion: OpenAI.ChatCompletion): string {
  return completion.choices.map((choice) => choice.message?.content ?? '').join('');
}
