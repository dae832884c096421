import {
  Inject,
  Injectable,
  NotFoundException,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import {
  agentAccount,
  formatAiDollars,
  type GPU_USAGE_SORT_FIELDS,
  type GpuSummary,
  type GpuUsage,
} from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { listPage } from '../database/list-page.js';
import { TiersService } from '../economy/tiers.service.js';
import { EventBus } from '../events/event-bus.service.js';
import type { ListQuery } from '../http/list-query.js';
import { LedgerService, type TransferResult } from '../ledger/ledger.service.js';
import { LOGGER } from '../logging/logger.js';
import { throttledErrorLog } from '../logging/throttled-error-log.js';
import { gpuMills, roundedBill } from './gpu-share.js';

type UsageSortField = (typeof GPU_USAGE_SORT_FIELDS)[number];
const LISTED_USAGE = {
  table: 'gpu_usage',
  sort: {
    id: 'id',
    windowStart: 'window_start',
    cost: 'cost',
    gpuSeconds: 'gpu_seconds',
  } satisfies Record<UsageSortField, string>,
  filter: { id: 'id', agentId: 'agent_id', status: 'status', tier: 'tier', transferId: 'transfer_id' },
};

/** Windows are counted from this moment (any fixed one will do; they are whole multiples of the window). */
const WINDOW_ORIGIN = '2000-01-01T00:00:00Z';
/** Windows billed per sweep at most; the next sweep takes the rest. */
const SWEEP_LIMIT = 500;

interface UsageRow {
  id: string;
  agent_id: string;
  window_start: Date;
  window_end: Date;
  part: number;
  samples: number;
  gpu_seconds: number;
  gpu_memory_gib_seconds: number;
  tier: number;
  price_gpu_hour: string;
  price_memory_gib_hour: string;
  cost_exact: number;
  carry: number;
  cost: string;
  charged: string;
  shortfall: string;
  status: GpuUsage['status'];
  transfer_id: string | null;
  created_at: Date;
}

/**
 * Bills agents for their GPU share: every VILLAGE_GPU_BILLING_SWEEP_MS each replica finds billing
 * windows that closed (plus the grace for late samples) with samples not yet billed, and bills each
 * agent's window in one transaction: the samples are claimed (usage_id), priced at the agent's tier,
 * and what the agent has of the price moves to `compute_revenue` (reason `gpu_usage`); the rest is a
 * recorded shortfall. A per-agent lock and the claimed rows make two replicas bill each sample once.
 */
@Injectable()
export class GpuBillingService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly logError: (error: unknown) => void;

  constructor(
    private readonly database: DatabaseService,
    private readonly ledger: LedgerService,
    private readonly tiers: TiersService,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logError = throttledErrorLog(logger, 'billing GPU usage');
  }

  onApplicationBootstrap() {
    this.timer = setInterval(() => void this.sweep(), this.config.VILLAGE_GPU_BILLING_SWEEP_MS);
    this.timer.unref();
  }

  async onApplicationShutdown() {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** One sweep at a time per replica; a failure is logged and the next sweep tries again. */
  sweep(): Promise<unknown> {
    this.sweeping ??= this.billDue()
      .catch(this.logError)
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Bills every closed window that has unbilled samples; returns the bills made by this call. */
  async billDue(): Promise<GpuUsage[]> {
    const { rows } = await this.database.query<{ agent_id: string; window_start: Date }>(
      `SELECT agent_id, date_bin($1::interval, sampled_at, $2::timestamptz) AS window_start
         FROM gpu_samples
        WHERE usage_id IS NULL AND agent_id IS NOT NULL
          AND sampled_at < date_bin($1::interval, now() - $3::interval, $2::timestamptz)
        GROUP BY 1, 2 ORDER BY 2, 1 LIMIT $4`,
      [
        `${this.config.VILLAGE_GPU_BILLING_WINDOW_MS} milliseconds`,
        WINDOW_ORIGIN,
        `${this.config.VILLAGE_GPU_BILLING_GRACE_MS} milliseconds`,
        SWEEP_LIMIT,
      ],
    );
    const bills: GpuUsage[] = [];
    for (const row of rows) {
      const bill = await this.billWindow(row.agent_id, row.window_start);
      if (bill) bills.push(bill);
    }
    return bills;
  }

  /**
   * Bills one agent's unbilled samples of one window; null when there are none (another replica billed
   * them first). The idempotency key names the agent, the window and the part, so even a transfer
   * retried on its own could not charge twice.
   */
  async billWindow(agentId: string, windowStart: Date): Promise<GpuUsage | null> {
    const windowEnd = new Date(windowStart.getTime() + this.config.VILLAGE_GPU_BILLING_WINDOW_MS);
    // The tier in force now prices the window (it is read outside the transaction: the policy is cached).
    const economy = await this.tiers.economyOf(agentId);
    const price = economy.entitlements.gpuPrice;
    const outcome = await this.database.transaction(async (client) => {
      // One bill of an agent at a time, on any replica: the second finds the samples claimed.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('gpu-billing'), hashtext($1))`, [agentId]);
      const { rows: claimed } = await client.query<{
        ids: string[] | null;
        samples: number;
        gpu_seconds: number | null;
        gpu_memory_gib_seconds: number | null;
      }>(
        `WITH s AS (
           SELECT id, gpu_seconds, gpu_memory_gib_seconds FROM gpu_samples
            WHERE agent_id = $1 AND usage_id IS NULL AND sampled_at >= $2 AND sampled_at < $3
            FOR UPDATE)
         SELECT array_agg(id) AS ids, count(*)::int AS samples, sum(gpu_seconds) AS gpu_seconds,
                sum(gpu_memory_gib_seconds) AS gpu_memory_gib_seconds FROM s`,
        [agentId, windowStart, windowEnd],
      );
      const use = claimed[0]!;
      if (!use.ids || use.samples === 0) return null;
      const gpuSeconds = use.gpu_seconds ?? 0;
      const gpuMemoryGibSeconds = use.gpu_memory_gib_seconds ?? 0;
      const { rows: before } = await client.query<{ part: number; carried: number }>(
        `SELECT (SELECT coalesce(max(part) + 1, 0)::int FROM gpu_usage WHERE agent_id = $1 AND window_start = $2) AS part,
                coalesce((SELECT carry FROM gpu_usage WHERE agent_id = $1 ORDER BY id DESC LIMIT 1), 0) AS carried`,
        [agentId, windowStart],
      );
      const { part, carried } = before[0]!;
      const costExact = gpuMills({ gpuSeconds, gpuMemoryGibSeconds }, price);
      const { cost, carry } = roundedBill(costExact, carried);
      // The agent's row stays locked until commit, so what it has cannot change under us.
      const { rows: account } = await client.query<{ available: string }>(
        'SELECT balance - held AS available FROM ledger_accounts WHERE id = $1 FOR UPDATE',
        [agentAccount(agentId)],
      );
      const charged = Math.min(cost, Math.max(0, Number(account[0]?.available ?? 0)));
      let transfer: TransferResult | null = null;
      if (charged > 0) {
        transfer = await this.ledger.transferWith(client, {
          debit: agentAccount(agentId),
          credit: 'compute_revenue',
          amount: charged,
          reason: 'gpu_usage',
          memo: `GPU ${windowStart.toISOString()} to ${windowEnd.toISOString()}: ${gpuSeconds.toFixed(1)} GPU-seconds, ${gpuMemoryGibSeconds.toFixed(1)} GiB-seconds`,
          source: { type: 'system', id: 'gpu-billing' },
          metadata: { windowStart: windowStart.toISOString(), part, gpuSeconds, gpuMemoryGibSeconds, costExact, cost },
          idempotencyKey: `gpu-usage:${agentId}:${windowStart.toISOString()}:${part}`,
        });
      }
      const status: GpuUsage['status'] =
        cost === 0 ? 'free' : charged === cost ? 'charged' : charged > 0 ? 'partial' : 'unpaid';
      const { rows: inserted } = await client.query<UsageRow>(
        `INSERT INTO gpu_usage (agent_id, window_start, window_end, part, samples, gpu_seconds, gpu_memory_gib_seconds,
                                tier, price_gpu_hour, price_memory_gib_hour, cost_exact, carry, cost, charged,
                                shortfall, status, transfer_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING *`,
        [
          agentId,
          windowStart,
          windowEnd,
          part,
          use.samples,
          gpuSeconds,
          gpuMemoryGibSeconds,
          economy.tier.level,
          price.gpuHour,
          price.memoryGibHour,
          costExact,
          carry,
          cost,
          charged,
          cost - charged,
          status,
          transfer?.transfer.id ?? null,
        ],
      );
      const usage = toUsage(inserted[0]!);
      await client.query('UPDATE gpu_samples SET usage_id = $1 WHERE id = ANY($2::bigint[])', [usage.id, use.ids]);
      if (usage.shortfall > 0) {
        await this.audit.record(client, {
          actor: undefined,
          action: 'gpu_usage.shortfall',
          subject: { type: 'agent', id: agentId },
          after: usage,
          reason: `agent:${agentId} had ${formatAiDollars(charged)} of the ${formatAiDollars(cost)} aiDollars its GPU use cost`,
        });
      }
      return { usage, transfer };
    });
    if (!outcome) return null;
    if (outcome.transfer) await this.ledger.announce(outcome.transfer);
    const { usage } = outcome;
    await this.events.publish([
      {
        type: 'gpu.usage_billed',
        agentId,
        usageId: usage.id,
        windowStart: usage.windowStart,
        windowEnd: usage.windowEnd,
        gpuSeconds: usage.gpuSeconds,
        gpuMemoryGibSeconds: usage.gpuMemoryGibSeconds,
        cost: usage.cost,
        charged: usage.charged,
        shortfall: usage.shortfall,
        transferId: usage.transferId,
      },
    ]);
    return usage;
  }

  list(query: ListQuery<UsageSortField>): Promise<{ items: GpuUsage[]; total: number }> {
    return listPage(this.database, LISTED_USAGE, query, toUsage);
  }

  async get(id: number): Promise<GpuUsage> {
    const { rows } = await this.database.query<UsageRow>('SELECT * FROM gpu_usage WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundException(`there is no GPU bill ${id}`);
    return toUsage(rows[0]);
  }

  /** An agent's bills since a moment, and what it used that is not billed yet. */
  async summary(agentId: string, since: Date): Promise<GpuSummary> {
    const [billed, unbilled] = await Promise.all([
      this.database.query<{
        bills: number;
        gpu_seconds: number;
        gpu_memory_gib_seconds: number;
        cost: string;
        charged: string;
        shortfall: string;
      }>(
        `SELECT count(*)::int AS bills, coalesce(sum(gpu_seconds), 0) AS gpu_seconds,
                coalesce(sum(gpu_memory_gib_seconds), 0) AS gpu_memory_gib_seconds, coalesce(sum(cost), 0) AS cost,
                coalesce(sum(charged), 0) AS charged, coalesce(sum(shortfall), 0) AS shortfall
           FROM gpu_usage WHERE agent_id = $1 AND window_start >= $2`,
        [agentId, since],
      ),
      this.database.query<{ samples: number; gpu_seconds: number; gpu_memory_gib_seconds: number }>(
        `SELECT count(*)::int AS samples, coalesce(sum(gpu_seconds), 0) AS gpu_seconds,
                coalesce(sum(gpu_memory_gib_seconds), 0) AS gpu_memory_gib_seconds
           FROM gpu_samples WHERE agent_id = $1 AND usage_id IS NULL`,
        [agentId],
      ),
    ]);
    const bills = billed.rows[0]!;
    const waiting = unbilled.rows[0]!;
    return {
      agentId,
      since: since.toISOString(),
      bills: bills.bills,
      gpuSeconds: bills.gpu_seconds,
      gpuMemoryGibSeconds: bills.gpu_memory_gib_seconds,
      cost: Number(bills.cost),
      charged: Number(bills.charged),
      shortfall: Number(bills.shortfall),
      unbilled: {
        samples: waiting.samples,
        gpuSeconds: waiting.gpu_seconds,
        gpuMemoryGibSeconds: waiting.gpu_memory_gib_seconds,
      },
    };
  }
}

function toUsage(row: UsageRow): GpuUsage {
  return {
    id: Number(row.id),
    agentId: row.agent_id,
    windowStart: row.window_start.toISOString(),
    windowEnd: row.window_end.toISOString(),
    part: row.part,
    samples: row.samples,
    gpuSeconds: row.gpu_seconds,
    gpuMemoryGibSeconds: row.gpu_memory_gib_seconds,
    tier: row.tier,
    price: { gpuHour: Number(row.price_gpu_hour), memoryGibHour: Number(row.price_memory_gib_hour) },
    costExact: row.cost_exact,
    cost: Number(row.cost),
    charged: Number(row.charged),
    shortfall: Number(row.shortfall),
    carry: row.carry,
    status: row.status,
    transferId: row.transfer_id === null ? null : Number(row.transfer_id),
    createdAt: row.created_at.toISOString(),
  };
}
