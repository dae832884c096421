// `npm start` with a Docker engine: the built-in cast as agent containers on the local node, driven by
// the fleet like any other node's (docs/DEPLOYMENT.md, "Agents as containers or processes").
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundException } from '@nestjs/common';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { AgentsService } from '../agents/agents.service.js';
import type { Principal } from '../auth/principal.js';
import { CreateAgentRequestSchema } from '../contract/index.js';
import { FleetAgentsService } from '../fleet/fleet-agents.service.js';
import { FleetReconciler } from '../fleet/fleet-reconciler.service.js';
import { NodesService } from '../fleet/nodes.service.js';
import { PATHS } from '../paths.js';
import { castMembers } from './cast-members.js';

/** How the launcher runs agents: `auto` picks containers when an engine answers and this build's image exists. */
export const AGENT_RUNTIMES = ['auto', 'processes', 'containers'] as const;
export type AgentRuntimeSetting = (typeof AGENT_RUNTIMES)[number];

export type AgentRuntimeChoice =
  { runtime: 'processes'; why: string } | { runtime: 'containers'; image: string; socketPath: string; why: string };

/** The node the launcher registers for this machine's engine. */
export const LOCAL_NODE = 'local';
const LAUNCHER: Principal = { kind: 'admin' };
const EGRESS_RESTART_MS = 2_000;

/**
 * Processes or containers. `processes` always; `containers` needs an engine on a Unix socket (DOCKER_HOST
 * or /var/run/docker.sock) and builds the agent image when this build has none (minutes the first time);
 * `auto` uses containers only when the engine answers and the image is already there, so a start never
 * waits on a build it was not asked for.
 */
export async function chooseAgentRuntime(setting: AgentRuntimeSetting, logger: Logger): Promise<AgentRuntimeChoice> {
  if (setting === 'processes') return { runtime: 'processes', why: 'VILLAGE_AGENT_RUNTIME=processes' };
  const host = process.env.DOCKER_HOST;
  const socketPath = !host
    ? '/var/run/docker.sock'
    : host.startsWith('unix://')
      ? host.slice('unix://'.length)
      : undefined;
  const refuse = (why: string): AgentRuntimeChoice => {
    if (setting === 'containers') throw new Error(`VILLAGE_AGENT_RUNTIME=containers, but ${why}`);
    return { runtime: 'processes', why };
  };
  if (!socketPath) return refuse(`DOCKER_HOST=${host} is not a local Unix socket (register remote engines as nodes)`);
  const answers = await new Docker({ socketPath, timeout: 3_000 }).ping().then(
    () => true,
    () => false,
  );
  if (!answers) return refuse(`no Docker engine answers on ${socketPath}`);
  const image = await buildAgentImage(setting === 'auto', logger);
  if (image.missing) {
    return refuse(
      `there is no agent image for this build (${image.reference}): npm run image:build, or VILLAGE_AGENT_RUNTIME=containers`,
    );
  }
  return { runtime: 'containers', image: image.reference, socketPath, why: `Docker engine on ${socketPath}` };
}

function buildAgentImage(checkOnly: boolean, logger: Logger): Promise<{ reference: string; missing?: boolean }> {
  if (!checkOnly) logger.info('building the agent image if this build has none (minutes the first time)');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PATHS.buildAgentImage, '--json', ...(checkOnly ? ['--check'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { reference: string; missing?: boolean });
      else reject(new Error(`the agent image could not be built (exit ${code}): ${stderr.trim()}`));
    });
  });
}

/**
 * The cast as containers: registers this machine's engine as the node `local` (egress-proxy network,
 * sockets under `<data>/egress`), runs that node's egress daemon as a child process (restarted if it
 * dies; its output in `<data>/logs/egress.log`), creates the cast's agents and asks the fleet to run
 * each on `local`. An agent an admin stopped or quarantined stays so across restarts. At shutdown the
 * reconcile loop stops first and the cast's containers are removed (their desired state is kept, so
 * the next start brings them back, each with a new token; their workspaces are volumes and stay).
 */
export class ContainerCast {
  private egress: ChildProcess | undefined;
  private stopping = false;
  private launched: string[] = [];

  constructor(
    private readonly services: {
      agents: AgentsService;
      nodes: NodesService;
      fleet: FleetAgentsService;
      reconciler: FleetReconciler;
    },
    private readonly options: { dataDir: string; villageUrl: string; image: string; socketPath: string },
    private readonly logger: Logger,
  ) {}

  async launch(count: number): Promise<string[]> {
    if (count === 0) return [];
    if (!existsSync(PATHS.egressDaemon)) {
      throw new Error('the egress daemon is not built (agent-image/dist/src/egress/main.js); run `npm run build`');
    }
    const egressDir = join(this.options.dataDir, 'egress');
    mkdirSync(egressDir, { recursive: true, mode: 0o755 });
    mkdirSync(join(this.options.dataDir, 'logs'), { recursive: true });
    const token = await this.localNode(egressDir);
    const members = castMembers(count);
    for (const member of members) {
      const exists = await this.services.agents.get(member.id).then(
        () => true,
        (error: unknown) => {
          if (error instanceof NotFoundException) return false;
          throw error;
        },
      );
      if (!exists) await this.services.agents.create(CreateAgentRequestSchema.parse(member), { builtIn: true });
    }
    // The daemon opens a socket per agent when it starts: after the agents exist.
    this.startEgress(token, egressDir);
    await this.waitForSockets(
      egressDir,
      members.map((member) => member.id),
    );
    for (const { id } of members) {
      if (await this.services.fleet.isHeld(id)) {
        this.logger.warn({ agent: id }, 'agent is stopped or quarantined by an admin: left so (release it to run it)');
        continue;
      }
      await this.services.fleet.start(id, { node: LOCAL_NODE, image: this.options.image }, LAUNCHER);
      this.launched.push(id);
    }
    return members.map((member) => member.id);
  }

  /** The node `local` for this engine (registered, or brought up to date), and its daemons' token. */
  private async localNode(egressDir: string): Promise<string> {
    const tokenFile = join(this.options.dataDir, 'node-local.token');
    const engine = { kind: 'socket' as const, socketPath: this.options.socketPath };
    const agentNetwork = { mode: 'egress-proxy' as const, egressDir };
    const existing = await this.services.nodes.get(LOCAL_NODE).catch((error: unknown) => {
      if (error instanceof NotFoundException) return undefined;
      throw error;
    });
    if (!existing) {
      const { token } = await this.services.nodes.register(
        { name: LOCAL_NODE, labels: { role: 'local' }, engine, agentNetwork },
        LAUNCHER,
      );
      keepSecret(tokenFile, token);
      return token;
    }
    const settingsDiffer =
      JSON.stringify(existing.engine) !== JSON.stringify(engine) ||
      JSON.stringify(existing.agentNetwork) !== JSON.stringify(agentNetwork);
    if (settingsDiffer) await this.services.nodes.update(LOCAL_NODE, { engine, agentNetwork }, LAUNCHER);
    if (existsSync(tokenFile)) return readFileSync(tokenFile, 'utf8').trim();
    const { token } = await this.services.nodes.rotateToken(LOCAL_NODE, LAUNCHER);
    keepSecret(tokenFile, token);
    return token;
  }

  private startEgress(token: string, egressDir: string) {
    const log = createWriteStream(join(this.options.dataDir, 'logs', 'egress.log'), { flags: 'a' });
    const child = spawn(process.execPath, [PATHS.egressDaemon], {
      env: {
        ...process.env,
        VILLAGE_URL: this.options.villageUrl,
        VILLAGE_NODE_TOKEN: token,
        VILLAGE_EGRESS_DIR: egressDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    this.egress = child;
    child.on('exit', (code, signal) => {
      log.end();
      if (this.stopping) return;
      this.logger.error({ code, signal }, 'the egress daemon exited; restarting it (see logs/egress.log)');
      setTimeout(() => !this.stopping && this.startEgress(token, egressDir), EGRESS_RESTART_MS).unref();
    });
  }

  /** The daemon's socket of every cast agent, so that no container is made before its socket exists. */
  private async waitForSockets(egressDir: string, ids: string[]) {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (ids.every((id) => existsSync(join(egressDir, id, 'egress.sock')))) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.logger.warn('the egress daemon has not opened every agent socket yet; the fleet retries those agents');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.services.reconciler.stop();
    const docker = new Docker({ socketPath: this.options.socketPath, timeout: 20_000 });
    await Promise.all(
      this.launched.map(async (id) => {
        const { containerId } = await this.services.fleet.get(id).catch(() => ({ containerId: null }));
        if (containerId)
          await docker
            .getContainer(containerId)
            .remove({ force: true })
            .catch(() => undefined);
      }),
    );
    const egress = this.egress;
    if (egress && egress.exitCode === null && egress.signalCode === null) {
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => egress.kill('SIGKILL'), 5_000);
        egress.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        egress.kill('SIGTERM');
      });
    }
  }
}

/** Writes a secret file whole and 0600. */
function keepSecret(file: string, secret: string) {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${secret}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}
