import { join } from 'node:path';
import { VillageClient } from '@ai-village/control-plane/contract';
import { EgressPolicies } from './egress-policies.js';
import { EgressProxy } from './egress-proxy.js';
import { EgressReporter } from './egress-reporter.js';

export interface EgressNodeOptions {
  controlPlaneUrl: string;
  /** The node's token (`vnt_...`): reads policies and secrets, reports the log. */
  nodeToken: string;
  /** Where the agents' socket directories live: `<dir>/<agent id>/egress.sock`. */
  socketDir: string;
  /** How often the set of agents is refreshed. */
  syncMs?: number;
  onProblem?: (message: string, fields: Record<string, unknown>) => void;
}

/** The socket an agent's container gets mounted (its directory, at /run/village). */
export function agentSocketPath(socketDir: string, agentId: string) {
  return join(socketDir, agentId, 'egress.sock');
}

/**
 * The egress proxy as a node daemon: one socket per agent of the village, kept in step with the
 * control plane's agents, and the request log sent back in batches.
 */
export class EgressNode {
  readonly proxy: EgressProxy;
  private readonly reporter: EgressReporter;
  private readonly client: VillageClient;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: EgressNodeOptions) {
    const problem = options.onProblem ?? (() => undefined);
    this.client = new VillageClient({ baseUrl: options.controlPlaneUrl, token: options.nodeToken });
    this.reporter = new EgressReporter(this.client, problem);
    this.proxy = new EgressProxy({
      controlPlaneUrl: options.controlPlaneUrl,
      policies: new EgressPolicies(this.client),
      reporter: this.reporter,
      onProblem: problem,
    });
  }

  async start() {
    await this.sync();
    this.timer = setInterval(
      () =>
        void this.sync().catch((error: unknown) =>
          this.options.onProblem?.('could not list the agents', { error: String(error) }),
        ),
      this.options.syncMs ?? 10_000,
    );
    this.timer.unref();
  }

  /** Opens a socket for every agent of the village, closes those of agents that are gone. */
  async sync() {
    const ids = new Set<string>();
    for (let start = 0; ; start += 1000) {
      const page = await this.client.agents({ sort: ['id', 'ASC'], range: [start, start + 999] });
      for (const agent of page.items) ids.add(agent.id);
      if (page.items.length < 1000) break;
    }
    for (const id of ids) await this.proxy.open(id, agentSocketPath(this.options.socketDir, id));
    for (const id of this.proxy.agents) if (!ids.has(id)) await this.proxy.close(id);
  }

  /** Sends what is still in the log buffer. */
  flushLog() {
    return this.reporter.flush();
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    await this.proxy.closeAll();
    await this.reporter.close();
  }
}
