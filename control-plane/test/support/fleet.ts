// What the fleet tests share: the node's egress daemon as a child process, this village's identity on
// the engines, and the removal of every container and workspace volume the fleet made for a test.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import pg from 'pg';
import { AGENT_LABEL, VILLAGE_LABEL, agentWorkspaceVolume } from '../../src/fleet/agent-container-spec.js';
import { eventually } from './eventually.js';

/** Compiled location: control-plane/dist/test/support/ → the egress daemon of the agent image. */
const EGRESS_MAIN = fileURLToPath(new URL('../../../../agent-image/dist/src/egress/main.js', import.meta.url));

export interface EgressDaemon {
  output(): string;
  /** Waits until the daemon has opened the socket of each agent. */
  socketsOf(agentIds: string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The node's egress daemon (`village-egress`), with the node's token, serving sockets under `dir`. */
export function startEgressDaemon(villageUrl: string, nodeToken: string, dir: string): EgressDaemon {
  if (!existsSync(EGRESS_MAIN)) throw new Error(`${EGRESS_MAIN} is missing: npm run build first`);
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [EGRESS_MAIN], {
    env: { ...process.env, VILLAGE_URL: villageUrl, VILLAGE_NODE_TOKEN: nodeToken, VILLAGE_EGRESS_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-10_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return {
    output: () => output,
    socketsOf: async (agentIds, timeoutMs = 20_000) => {
      await eventually(
        () => agentIds.every((id) => existsSync(join(dir, id, 'egress.sock'))),
        `the egress sockets of ${agentIds.join(', ')} (daemon output: ${output})`,
        timeoutMs,
      );
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** This village's name on the engines (the label on every container its fleet creates). */
export async function villageIdOf(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ village_id: string }>('SELECT village_id FROM fleet_identity');
    return rows[0]!.village_id;
  } finally {
    await client.end();
  }
}

/** Removes every container of this village from an engine, and the workspace volumes of these agents (and of the containers'). */
export async function removeVillageContainers(
  docker: Docker,
  villageId: string,
  agentIds: string[] = [],
): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${VILLAGE_LABEL}=${villageId}`] } });
  await Promise.all(
    containers.map((info) =>
      docker
        .getContainer(info.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
  const agents = new Set([...agentIds, ...containers.map((info) => info.Labels[AGENT_LABEL] ?? '')]);
  for (const agentId of agents) {
    await docker
      .getVolume(agentWorkspaceVolume(agentId, villageId))
      .remove()
      .catch(() => undefined);
  }
}

/** The agent's container on an engine, found by the fleet's label. */
export async function containerOf(docker: Docker, villageId: string, agentId: string) {
  const [info] = await docker.listContainers({
    all: true,
    filters: { label: [`${VILLAGE_LABEL}=${villageId}`, `${AGENT_LABEL}=${agentId}`] },
  });
  return info ? docker.getContainer(info.Id).inspect() : undefined;
}
