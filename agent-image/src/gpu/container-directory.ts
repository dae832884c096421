// Whose a container is, remembered: a container's id never changes hands and its labels and devices
// are fixed at creation, so each is asked about once. An id not seen before costs one list of the
// agents' containers (which also learns every other agent container at once).
import type { DockerApi } from './docker-api.js';

/** The label the fleet puts on every agent container (control-plane/src/fleet/agent-container-spec.ts). */
export const AGENT_LABEL = 'ai-village.agent';
/** Containers remembered at most; beyond it the oldest are forgotten (and asked about again if seen). */
const REMEMBERED = 10_000;

export type ContainerOwner = { agentId: string | null } | { lookupFailed: string };

export class ContainerDirectory {
  private readonly owners = new Map<string, string | null>();
  private readonly devices = new Map<string, string[]>();
  /** Docker calls made (for the benchmark). */
  calls = 0;

  constructor(private readonly docker: Pick<DockerApi, 'labelledContainers' | 'devicesOf'>) {}

  /** The agent of each container (null: not an agent's); when Docker cannot be asked, why. */
  async ownersOf(ids: Iterable<string>): Promise<Map<string, ContainerOwner>> {
    const wanted = [...new Set(ids)];
    const unknown = wanted.filter((id) => !this.owners.has(id));
    let failure: string | undefined;
    if (unknown.length > 0) {
      try {
        this.calls++;
        const listed = new Map((await this.docker.labelledContainers(AGENT_LABEL)).map((c) => [c.id, c.agentId]));
        for (const [id, agentId] of listed) this.remember(id, agentId);
        // Not among the agents' containers: someone else's (the site's LLM server, say).
        for (const id of unknown) if (!listed.has(id)) this.remember(id, null);
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
    }
    return new Map(
      wanted.map((id) => {
        const owner = this.owners.get(id);
        return [id, owner === undefined ? { lookupFailed: failure ?? 'unknown' } : { agentId: owner }];
      }),
    );
  }

  /** The GPU devices a container was given (asked once); null when Docker cannot say now. */
  async devicesOf(id: string): Promise<string[] | null> {
    const known = this.devices.get(id);
    if (known) return known;
    try {
      this.calls++;
      const { gpus } = await this.docker.devicesOf(id);
      this.devices.set(id, gpus);
      if (this.devices.size > REMEMBERED) this.devices.delete(this.devices.keys().next().value!);
      return gpus;
    } catch {
      return null;
    }
  }

  private remember(id: string, agentId: string | null) {
    this.owners.delete(id);
    this.owners.set(id, agentId);
    if (this.owners.size > REMEMBERED) this.owners.delete(this.owners.keys().next().value!);
  }
}
