import type { EgressPolicy, VillageClient } from '@ai-village/control-plane/contract';

const FRESH_MS = 10_000;
/** While the control plane cannot be asked, a known policy keeps applying this long; then egress is refused. */
const STALE_MS = 120_000;

interface Entry {
  policy: EgressPolicy;
  fetchedAt: number;
}

/**
 * Each agent's egress policy (allowed hosts, secrets to inject) as the control plane states it, cached
 * for 10 s. When the control plane cannot answer, the last policy holds for two minutes, then the agent's
 * egress closes (fails closed): a policy nobody can confirm is not enforced forever.
 */
export class EgressPolicies {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<EgressPolicy>>();

  constructor(
    private readonly client: Pick<VillageClient, 'egressPolicy'>,
    private readonly now: () => number = Date.now,
  ) {}

  async of(agentId: string): Promise<EgressPolicy | { unavailable: string }> {
    const entry = this.entries.get(agentId);
    const now = this.now();
    if (entry && now - entry.fetchedAt < FRESH_MS) return entry.policy;
    try {
      return await this.fetch(agentId);
    } catch (error) {
      if (entry && now - entry.fetchedAt < STALE_MS) return entry.policy;
      return { unavailable: `the control plane did not give agent ${agentId}'s egress policy: ${String(error)}` };
    }
  }

  /** Forgets an agent's policy, e.g. when its socket closes. */
  forget(agentId: string) {
    this.entries.delete(agentId);
  }

  private fetch(agentId: string): Promise<EgressPolicy> {
    let pending = this.pending.get(agentId);
    if (!pending) {
      pending = this.client
        .egressPolicy(agentId)
        .then((policy) => {
          this.entries.set(agentId, { policy, fetchedAt: this.now() });
          return policy;
        })
        .finally(() => this.pending.delete(agentId));
      this.pending.set(agentId, pending);
    }
    return pending;
  }
}
