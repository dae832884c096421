import {
  Inject,
  Injectable,
  NotFoundException,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import OpenAI from 'openai';
import type { Logger } from 'pino';
import type { LlmUpstream, LlmUpstreamConfig, PutLlmUpstreamCommand } from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { LOGGER } from '../logging/logger.js';
import { RedisService } from '../redis/redis.service.js';
import { GatewayLimits } from './gateway-limits.service.js';
import { upstreamFetch } from './upstream-fetch.js';

/** An upstream as the gateway uses it: its settings, an `openai` client, and its health. */
export interface Upstream extends LlmUpstreamConfig {
  client: OpenAI;
  healthy: boolean | null;
  lastCheckedAt: string | null;
  lastError: string | null;
}

interface UpstreamRow {
  name: string;
  base_url: string;
  api_key: string;
  models: string[];
  max_concurrency: number;
  timeout_ms: number;
  enabled: boolean;
}

const HEALTH_CHECK_TIMEOUT_MS = 5_000;

/**
 * The OpenAI-compatible servers the gateway forwards to. VILLAGE_LLM_UPSTREAMS is written to the
 * database at start; admins change the list at run time and every replica reloads it (Redis
 * pub/sub). Each replica checks every upstream's health, and a failed call marks one down at once;
 * a change of health is announced on the event stream and logged, so a village never goes quiet
 * without someone being told.
 */
@Injectable()
export class LlmUpstreams implements OnApplicationBootstrap, OnApplicationShutdown {
  private upstreams = new Map<string, Upstream>();
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<unknown> | undefined;

  constructor(
    private readonly database: DatabaseService,
    private readonly redis: RedisService,
    private readonly events: EventBus,
    private readonly audit: AuditService,
    private readonly limits: GatewayLimits,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  private get changedChannel() {
    return this.redis.key('llm:upstreams-changed');
  }

  async onApplicationBootstrap() {
    for (const upstream of this.config.VILLAGE_LLM_UPSTREAMS) await this.write(upstream);
    await this.reload();
    await this.redis.subscriber.subscribe(this.changedChannel);
    this.redis.subscriber.on('message', (channel: string) => {
      if (channel === this.changedChannel)
        void this.reload().catch((error: unknown) => this.logger.warn({ err: error }, 'reloading LLM upstreams'));
    });
    this.timer = setInterval(() => {
      this.checking ??= this.checkAll().finally(() => (this.checking = undefined));
    }, this.config.VILLAGE_LLM_HEALTH_MS);
    this.timer.unref();
    if (this.upstreams.size === 0) {
      this.logger.info('no LLM upstreams configured (VILLAGE_LLM_UPSTREAMS): agents think with the scripted brain');
    }
  }

  async onApplicationShutdown() {
    clearInterval(this.timer);
    await this.checking;
  }

  all(): Upstream[] {
    return [...this.upstreams.values()];
  }

  /** Enabled upstreams serving a model: the healthy ones, or (when none is) every one, to probe them. */
  candidatesFor(model: string): Upstream[] {
    const serving = this.all().filter((upstream) => upstream.enabled && upstream.models.includes(model));
    const healthy = serving.filter((upstream) => upstream.healthy !== false);
    return healthy.length > 0 ? healthy : serving;
  }

  /** Every model some enabled upstream serves. */
  servedModels(): Set<string> {
    return new Set(this.all().flatMap((upstream) => (upstream.enabled ? upstream.models : [])));
  }

  async status(): Promise<LlmUpstream[]> {
    return Promise.all(
      this.all().map(async (upstream) => ({
        id: upstream.name,
        name: upstream.name,
        baseUrl: upstream.baseUrl,
        models: upstream.models,
        maxConcurrency: upstream.maxConcurrency,
        timeoutMs: upstream.timeoutMs,
        enabled: upstream.enabled,
        apiKeySet: upstream.apiKey !== '',
        healthy: upstream.healthy,
        lastCheckedAt: upstream.lastCheckedAt,
        lastError: upstream.lastError,
        inFlight: await this.limits.inFlight(upstream.name),
      })),
    );
  }

  async put(name: string, change: PutLlmUpstreamCommand, principal: Principal): Promise<LlmUpstream> {
    const before = this.upstreams.get(name);
    const upstream: LlmUpstreamConfig = { ...change, name, apiKey: change.apiKey ?? before?.apiKey ?? '' };
    await this.write(upstream);
    await this.audit.record(this.database.pool, {
      actor: principal,
      action: before ? 'llm_upstream.updated' : 'llm_upstream.created',
      subject: { type: 'llm_upstream', id: upstream.name },
      after: { ...upstream, apiKey: upstream.apiKey ? '(set)' : '' },
    });
    await this.changed();
    return (await this.status()).find((status) => status.name === upstream.name)!;
  }

  async remove(name: string, principal: Principal): Promise<void> {
    const { rowCount } = await this.database.query('DELETE FROM llm_upstreams WHERE name = $1', [name]);
    if (!rowCount) throw new NotFoundException(`there is no LLM upstream "${name}"`);
    await this.audit.record(this.database.pool, {
      actor: principal,
      action: 'llm_upstream.removed',
      subject: { type: 'llm_upstream', id: name },
    });
    await this.changed();
  }

  /** A call failed to connect or answered garbage: route around it until a health check says otherwise. */
  markDown(name: string, error: string) {
    const upstream = this.upstreams.get(name);
    if (upstream) this.setHealth(upstream, false, error);
  }

  markUp(name: string) {
    const upstream = this.upstreams.get(name);
    if (upstream && upstream.healthy !== true) this.setHealth(upstream, true, null);
  }

  private async changed() {
    await this.reload();
    await this.redis.commands.publish(this.changedChannel, 'reload');
  }

  private async write(upstream: LlmUpstreamConfig) {
    await this.database.query(
      `INSERT INTO llm_upstreams (name, base_url, api_key, models, max_concurrency, timeout_ms, enabled)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (name) DO UPDATE SET base_url = $2, api_key = $3, models = $4, max_concurrency = $5,
         timeout_ms = $6, enabled = $7, updated_at = now()`,
      [
        upstream.name,
        upstream.baseUrl,
        upstream.apiKey,
        upstream.models,
        upstream.maxConcurrency,
        upstream.timeoutMs,
        upstream.enabled,
      ],
    );
  }

  private async reload() {
    const { rows } = await this.database.query<UpstreamRow>('SELECT * FROM llm_upstreams ORDER BY name');
    const next = new Map<string, Upstream>();
    for (const row of rows) {
      const held = this.upstreams.get(row.name);
      const config: LlmUpstreamConfig = {
        name: row.name,
        baseUrl: row.base_url,
        apiKey: row.api_key,
        models: row.models,
        maxConcurrency: row.max_concurrency,
        timeoutMs: row.timeout_ms,
        enabled: row.enabled,
      };
      const same =
        held && held.baseUrl === config.baseUrl && held.apiKey === config.apiKey && held.timeoutMs === config.timeoutMs;
      next.set(row.name, {
        ...config,
        client: same ? held.client : clientFor(config),
        healthy: same ? held.healthy : null,
        lastCheckedAt: same ? held.lastCheckedAt : null,
        lastError: same ? held.lastError : null,
      });
    }
    this.upstreams = next;
  }

  private async checkAll() {
    await Promise.all(
      this.all()
        .filter((upstream) => upstream.enabled)
        .map(async (upstream) => {
          try {
            await upstream.client.models.list({ timeout: Math.min(HEALTH_CHECK_TIMEOUT_MS, upstream.timeoutMs) });
            this.setHealth(upstream, true, null);
          } catch (error) {
            this.setHealth(upstream, false, describeUpstreamError(error));
          }
        }),
    );
  }

  private setHealth(upstream: Upstream, healthy: boolean, error: string | null) {
    const changed = upstream.healthy !== healthy;
    upstream.healthy = healthy;
    upstream.lastError = error;
    upstream.lastCheckedAt = new Date().toISOString();
    if (!changed) return;
    if (healthy) this.logger.info({ upstream: upstream.name }, 'LLM upstream answers again');
    else this.logger.error({ upstream: upstream.name, error }, 'LLM upstream does not answer');
    void this.events.publish([{ type: 'compute.upstream_health', upstream: upstream.name, healthy, error }]);
  }
}

function clientFor(upstream: LlmUpstreamConfig): OpenAI {
  // Retries are the gateway's own (another upstream), never the client's.
  return new OpenAI({
    baseURL: upstream.baseUrl,
    apiKey: upstream.apiKey || 'none',
    maxRetries: 0,
    timeout: upstream.timeoutMs,
    fetch: upstreamFetch(),
  });
}

/** One line on what went wrong with an upstream call. */
export function describeUpstreamError(error: unknown): string {
  if (error instanceof OpenAI.APIError && error.status) return `${error.status}: ${error.message}`.slice(0, 300);
  if (error instanceof Error) return (error.message || error.name).slice(0, 300);
  return String(error).slice(0, 300);
}
