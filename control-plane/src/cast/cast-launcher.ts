import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundException } from '@nestjs/common';
import type { Logger } from 'pino';
import type { AgentsService } from '../agents/agents.service.js';
import { castMembers, type CastMember } from './cast-members.js';
import { PATHS } from '../paths.js';
import { CreateAgentRequestSchema } from '../contract/index.js';

const RESTART_DELAY_MS = [1_000, 2_000, 5_000, 10_000, 30_000];
/** A runtime that ran this long before it exited was healthy: its next restart starts the back-off afresh. */
const HEALTHY_RUN_MS = 60_000;
/** The runtime's exit code for a refused token (agent-image/src/main.ts): wrong, stale or rotated. */
const EXIT_TOKEN_REFUSED = 3;

interface RunningAgent {
  member: CastMember;
  token: string;
  child?: ChildProcess;
  /** Restarts since the runtime last ran healthily; picks the back-off delay. */
  restarts: number;
  /** When the launcher last minted a token because the runtime's was refused. */
  renewedAt?: number;
}

/**
 * Runs the built-in cast as local processes of the agent runtime (containers come with the fleet).
 * Tokens live in `<data>/cast/<id>.token` (0600), so a restart reuses the same agents; a missing
 * token is replaced by rotating it. Each agent's output goes to `<data>/logs/<id>.log`. A runtime
 * that dies is restarted with back-off (1 s up to 30 s, afresh after a run of over a minute); one
 * whose token was refused (exit 3, e.g. an admin rotated it) gets a new token and restarts at once.
 */
export class CastLauncher {
  private readonly running: RunningAgent[] = [];
  private stopping = false;

  constructor(
    private readonly agents: AgentsService,
    private readonly options: {
      dataDir: string;
      villageUrl: string;
      runtime?: string;
      brain?: 'scripted' | 'llm';
      /** The kill switch: an agent an admin stopped or quarantined gets no new token. */
      holds?: { isHeld(agentId: string): Promise<boolean> };
    },
    private readonly logger: Logger,
  ) {}

  async launch(count: number): Promise<string[]> {
    if (count === 0) return [];
    const runtime = this.options.runtime ?? PATHS.agentRuntime;
    if (!existsSync(runtime))
      throw new Error('the agent runtime is not built (agent-image/dist/src/main.js); run `npm run build`');
    mkdirSync(join(this.options.dataDir, 'cast'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.options.dataDir, 'logs'), { recursive: true });
    for (const member of castMembers(count)) {
      const agent: RunningAgent = { member, token: await this.tokenFor(member), restarts: 0 };
      this.running.push(agent);
      this.start(agent, runtime);
    }
    return this.running.map((agent) => agent.member.id);
  }

  private async tokenFor(member: CastMember): Promise<string> {
    const file = this.tokenFile(member.id);
    const exists = await this.agents.get(member.id).then(
      () => true,
      (error: unknown) => {
        if (error instanceof NotFoundException) return false;
        throw error;
      },
    );
    let token: string;
    if (!exists) {
      token = (await this.agents.create(CreateAgentRequestSchema.parse(member), { builtIn: true })).token;
    } else if (existsSync(file)) {
      return readFileSync(file, 'utf8').trim();
    } else {
      token = await this.agents.rotateToken(member.id);
    }
    this.keepToken(member.id, token);
    return token;
  }

  private tokenFile(id: string): string {
    return join(this.options.dataDir, 'cast', `${id}.token`);
  }

  /** Writes the token file whole and 0600, even over an older file with laxer permissions. */
  private keepToken(id: string, token: string): void {
    const file = this.tokenFile(id);
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${token}\n`, { mode: 0o600 });
    renameSync(temporary, file);
  }

  private start(agent: RunningAgent, runtime: string) {
    const log = createWriteStream(join(this.options.dataDir, 'logs', `${agent.member.id}.log`), { flags: 'a' });
    const startedAt = Date.now();
    const child = spawn(process.execPath, [runtime], {
      env: {
        ...process.env,
        VILLAGE_URL: this.options.villageUrl,
        VILLAGE_AGENT_ID: agent.member.id,
        VILLAGE_AGENT_TOKEN: agent.token,
        // An operator's explicit choice wins; otherwise the launcher's.
        VILLAGE_AGENT_BRAIN: process.env.VILLAGE_AGENT_BRAIN || this.options.brain || 'scripted',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    agent.child = child;
    child.on('exit', (code, signal) => {
      log.end();
      if (this.stopping) return;
      if (Date.now() - startedAt > HEALTHY_RUN_MS) agent.restarts = 0;
      if (code === EXIT_TOKEN_REFUSED) {
        void this.renewToken(agent, runtime);
        return;
      }
      const delay = this.nextDelay(agent);
      this.logger.error(
        { agent: agent.member.id, code, signal, restartInMs: delay },
        'agent runtime exited; restarting (see its log)',
      );
      this.restartAfter(agent, runtime, delay);
    });
  }

  /**
   * The runtime's token was refused: mint a new one, keep it and restart at once. A token refused
   * again within a minute of the last renewal means something else is wrong, so that restart backs off.
   */
  private async renewToken(agent: RunningAgent, runtime: string): Promise<void> {
    const id = agent.member.id;
    const recentlyRenewed = agent.renewedAt !== undefined && Date.now() - agent.renewedAt < HEALTHY_RUN_MS;
    const delay = recentlyRenewed ? this.nextDelay(agent) : 0;
    try {
      if (await this.options.holds?.isHeld(id)) {
        const retryInMs = this.nextDelay(agent);
        this.logger.warn(
          { agent: id, retryInMs },
          "agent runtime's token was revoked by the kill switch; it stays stopped until an admin releases it",
        );
        this.restartAfter(agent, runtime, retryInMs);
        return;
      }
      agent.token = await this.agents.rotateToken(id);
      this.keepToken(id, agent.token);
      agent.renewedAt = Date.now();
    } catch (error) {
      if (this.stopping) return;
      const retryInMs = this.nextDelay(agent);
      this.logger.error(
        { agent: id, err: error, restartInMs: retryInMs },
        "agent runtime's token was refused and a new one could not be made; restarting with the old one",
      );
      this.restartAfter(agent, runtime, retryInMs);
      return;
    }
    this.logger.warn(
      { agent: id, restartInMs: delay },
      "agent runtime's token was refused (rotated by an admin?); gave it a new token and restarting it",
    );
    this.restartAfter(agent, runtime, delay);
  }

  private nextDelay(agent: RunningAgent): number {
    const delay = RESTART_DELAY_MS[Math.min(agent.restarts, RESTART_DELAY_MS.length - 1)]!;
    agent.restarts++;
    return delay;
  }

  private restartAfter(agent: RunningAgent, runtime: string, delay: number): void {
    if (this.stopping) return;
    if (delay === 0) this.start(agent, runtime);
    else setTimeout(() => !this.stopping && this.start(agent, runtime), delay).unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.running.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}
