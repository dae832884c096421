import { BadRequestException, Injectable, NotFoundException, type OnApplicationBootstrap } from '@nestjs/common';
import type {
  AgentEconomy,
  AgentTierSettingsRequest,
  TierPolicy,
  TierPolicyRequest,
  TierPreview,
} from '../contract/index.js';
import { agentAccount, TierSchema } from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import { authorOf, type Principal } from '../auth/principal.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { RedisService } from '../redis/redis.service.js';
import { tierChangedEvents, type TierChange } from '../ledger/ledger.service.js';
import { DEFAULT_TIER_POLICY } from './default-tier-policy.js';

interface PolicyRow {
  version: number;
  policy: TierPolicyRequest;
  created_by: string;
  created_at: Date;
}

/** How long a replica trusts the tier policy it read: another replica's new version is seen within this. */
const POLICY_CACHE_MS = 5_000;
/** How long the agent API's rate limit trusts a cached requests/min (a tier change clears it). */
const LIMIT_CACHE_S = 60;

/**
 * Compute tiers: the versioned policy (tiers by balance, each with its entitlements), each agent's
 * tier (earned by its balance in the ledger's own transaction, pinned or quarantined by admins), and
 * what the tier allows. The rule that turns a balance into a tier is the SQL function
 * `tier_for_balance`, applied by `agent_tier_refresh` whenever a setting changes or a balance leaves
 * the band in which its tier cannot change (`tier_band`, kept on the agent's ledger row). A policy
 * change goes through `setPolicy`, which refreshes every agent and so every band at once.
 */
@Injectable()
export class TiersService implements OnApplicationBootstrap {
  private cached: { policy: TierPolicy; until: number } | undefined;

  constructor(
    private readonly database: DatabaseService,
    private readonly redis: RedisService,
    private readonly events: EventBus,
    private readonly audit: AuditService,
  ) {}

  async onApplicationBootstrap() {
    // Version 1 is the default policy; replicas starting together insert it once.
    await this.database.query(
      `INSERT INTO tier_policies (version, policy, thresholds, hysteresis, created_by)
       VALUES (1, $1, $2, $3, 'village') ON CONFLICT (version) DO NOTHING`,
      [JSON.stringify(DEFAULT_TIER_POLICY), ...thresholdsOf(DEFAULT_TIER_POLICY)],
    );
    await this.database.query(
      `SELECT setval(pg_get_serial_sequence('tier_policies', 'version'), max(version)) FROM tier_policies`,
    );
    // A tier change anywhere ends the cached rate limit of that agent.
    this.events.subscribe((events) => {
      for (const event of events) {
        if (event.type === 'agent.tier_changed')
          void this.redis.commands.del(this.limitKey(event.agentId)).catch(() => undefined);
      }
    });
  }

  async policy(): Promise<TierPolicy> {
    if (this.cached && this.cached.until > Date.now()) return this.cached.policy;
    const { rows } = await this.database.query<PolicyRow>(
      'SELECT version, policy, created_by, created_at FROM tier_policies ORDER BY version DESC LIMIT 1',
    );
    const policy = toPolicy(rows[0]!);
    this.cached = { policy, until: Date.now() + POLICY_CACHE_MS };
    return policy;
  }

  /** A new policy version; every agent's tier is recomputed under it at once. */
  async setPolicy(request: TierPolicyRequest, principal: Principal): Promise<TierPolicy> {
    const actor = authorOf(principal);
    const { policy, changes } = await this.database.transaction(async (client) => {
      // One policy change at a time, so versions and recomputations do not interleave.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('tier_policies'))`);
      const { rows } = await client.query<PolicyRow>(
        `INSERT INTO tier_policies (policy, thresholds, hysteresis, created_by) VALUES ($1, $2, $3, $4)
         RETURNING version, policy, created_by, created_at`,
        [JSON.stringify(request), ...thresholdsOf(request), `${actor.type}:${actor.id}`],
      );
      const policy = toPolicy(rows[0]!);
      // Locks every agent's ledger row (in id order, as transfers do) while its tier is recomputed.
      const changed = await client.query<{ change: TierChange | null }>(
        `SELECT agent_tier_refresh(a.agent_id, a.balance, 'policy') AS change
           FROM (SELECT agent_id, balance FROM ledger_accounts WHERE kind = 'agent' ORDER BY id FOR UPDATE) a`,
      );
      await this.audit.record(client, {
        actor: principal,
        action: 'tier_policy.changed',
        subject: { type: 'tier_policy', id: policy.version },
        after: request,
      });
      return { policy, changes: changed.rows.flatMap((row) => (row.change ? [row.change] : [])) };
    });
    this.cached = undefined;
    await this.forgetLimits();
    await this.announce(changes);
    return policy;
  }

  /**
   * Which agents a proposed policy would move, and where, without changing anything: the same
   * `tier_for_balance` rule `agent_tier_refresh` applies, then quarantine (tier 0) and pins, as there.
   */
  async preview(request: TierPolicyRequest): Promise<TierPreview> {
    const [thresholds, hysteresis] = thresholdsOf(request);
    const [changed, counted] = await Promise.all([
      this.database.query<{
        agent_id: string;
        balance: string;
        tier: number;
        next: number;
        pinned_tier: number | null;
        quarantined: boolean;
      }>(
        `SELECT * FROM (
           SELECT a.agent_id, a.balance, t.tier, t.pinned_tier, t.quarantined,
                  CASE WHEN t.quarantined THEN 0
                       ELSE least(coalesce(t.pinned_tier, tier_for_balance(a.balance, t.earned_tier, $1::bigint[], $2)),
                                  cardinality($1::bigint[]) - 1) END AS next
             FROM ledger_accounts a JOIN agent_tiers t ON t.agent_id = a.agent_id
            WHERE a.kind = 'agent') preview
          WHERE tier <> next ORDER BY agent_id`,
        [thresholds, hysteresis],
      ),
      this.database.query<{ agents: number }>(`SELECT count(*)::int AS agents FROM agent_tiers`),
    ]);
    return {
      agents: counted.rows[0]!.agents,
      changes: changed.rows.map((row) => ({
        agentId: row.agent_id,
        balance: Number(row.balance),
        from: row.tier,
        to: row.next,
        pinned: row.pinned_tier,
        quarantined: row.quarantined,
      })),
    };
  }

  /** Pins a tier (or follows the balance again), quarantines or releases an agent. */
  async setAgentTier(agentId: string, request: AgentTierSettingsRequest, principal: Principal) {
    const policy = await this.policy();
    if (request.pinnedTier != null && request.pinnedTier >= policy.tiers.length) {
      throw new BadRequestException(
        `pinnedTier must be a tier of the policy in force: 0 to ${policy.tiers.length - 1}`,
      );
    }
    const cause = request.quarantined !== undefined ? 'quarantine' : 'pin';
    const change = await this.database.transaction(async (client) => {
      const { rows } = await client.query<{ balance: string }>(
        'SELECT balance FROM ledger_accounts WHERE id = $1 FOR UPDATE',
        [agentAccount(agentId)],
      );
      if (!rows[0]) throw new NotFoundException(`there is no agent with id "${agentId}"`);
      const settings = 'pinned_tier AS "pinnedTier", quarantined';
      const before = await client.query(`SELECT ${settings} FROM agent_tiers WHERE agent_id = $1`, [agentId]);
      const after = await client.query(
        `UPDATE agent_tiers SET pinned_tier = CASE WHEN $2 THEN $3::int ELSE pinned_tier END,
                quarantined = coalesce($4, quarantined), policy_version = NULL
          WHERE agent_id = $1 RETURNING ${settings}`,
        [agentId, request.pinnedTier !== undefined, request.pinnedTier ?? null, request.quarantined ?? null],
      );
      const refreshed = await client.query<{ change: TierChange | null }>(
        'SELECT agent_tier_refresh($1, $2, $3) AS change',
        [agentId, rows[0].balance, cause],
      );
      await this.audit.record(client, {
        actor: principal,
        action: 'agent.tier_settings',
        subject: { type: 'agent', id: agentId },
        before: before.rows[0],
        after: after.rows[0],
        reason: request.reason,
      });
      return refreshed.rows[0]!.change;
    });
    await this.announce(change ? [change] : []);
    return this.economyOf(agentId);
  }

  /** An agent's balance, tier and entitlements. */
  async economyOf(agentId: string): Promise<AgentEconomy> {
    return this.economyFrom(await this.standingOf(agentId));
  }

  /** What the database says of an agent's money, tier and pause: an `AgentEconomy` once the policy is applied. */
  async standingOf(agentId: string): Promise<AgentStanding> {
    const { rows } = await this.database.query<Omit<AgentStanding, 'agentId'>>({
      name: 'agent-economy',
      text: `SELECT a.balance, a.held, t.tier, t.earned_tier, t.pinned_tier, t.quarantined, t.policy_version, t.changed_at,
                    t.paused_at, t.paused_reason
               FROM ledger_accounts a JOIN agent_tiers t ON t.agent_id = a.agent_id WHERE a.id = $1`,
      values: [agentAccount(agentId)],
    });
    const row = rows[0];
    if (!row) throw new NotFoundException(`there is no agent with id "${agentId}"`);
    return { agentId, ...row };
  }

  /** The standing under the policy in force: the tier's name and entitlements. */
  async economyFrom(row: AgentStanding): Promise<AgentEconomy> {
    const policy = await this.policy();
    const tier = policy.tiers[Math.min(row.tier, policy.tiers.length - 1)]!;
    const balance = Number(row.balance);
    const held = Number(row.held);
    return {
      agentId: row.agentId,
      balance,
      held,
      available: balance - held,
      tier: {
        level: tier.level,
        name: tier.name,
        earned: row.earned_tier,
        pinned: row.pinned_tier,
        quarantined: row.quarantined,
        policyVersion: row.policy_version,
        changedAt: row.changed_at.toISOString(),
      },
      entitlements: tier.entitlements,
      computePaused: row.paused_at ? { at: row.paused_at.toISOString(), reason: row.paused_reason ?? '' } : null,
    };
  }

  /** Caches the agent API's requests/min of an agent in Redis (shared by replicas) until its tier changes. */
  async cacheRequestsPerMinute(agentId: string): Promise<void> {
    const { entitlements } = await this.economyOf(agentId);
    // Spread over a second minute, so that agents cached together do not all come back to the database together.
    const seconds = LIMIT_CACHE_S + Math.floor(Math.random() * LIMIT_CACHE_S);
    await this.redis.commands.set(this.limitKey(agentId), entitlements.requestsPerMinute, 'EX', seconds);
  }

  limitKey(agentId: string) {
    return this.redis.key(`tier-rpm:${agentId}`);
  }

  private async forgetLimits() {
    const stream = this.redis.commands.scanStream({ match: this.redis.key('tier-rpm:*'), count: 500 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await this.redis.commands.del(...keys);
  }

  private async announce(changes: TierChange[]) {
    await this.events.publish(tierChangedEvents(changes));
  }
}

/** An agent's row of money, tier and pause, as read. */
export interface AgentStanding {
  agentId: string;
  balance: string;
  held: string;
  tier: number;
  earned_tier: number;
  pinned_tier: number | null;
  quarantined: boolean;
  policy_version: number | null;
  changed_at: Date;
  paused_at: Date | null;
  paused_reason: string | null;
}

function toPolicy(row: PolicyRow): TierPolicy {
  return {
    version: row.version,
    // Parsed, so that a policy stored before an entitlement existed gets that entitlement's default.
    tiers: row.policy.tiers.map((tier) => TierSchema.parse(tier)),
    hysteresis: row.policy.hysteresis,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  };
}

function thresholdsOf(policy: TierPolicyRequest): [number[], number] {
  return [policy.tiers.map((tier) => tier.minBalance), policy.hysteresis];
}
