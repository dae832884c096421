import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { AgentsService } from '../agents/agents.service.js';
import { castMembers, type CastMember } from './cast-members.js';

/** The agent runtime's entry point (agent-image), found from src/ and dist/src/ alike. */
const DEFAULT_RUNTIME = [
  fileURLToPath(new URL('../../../../agent-image/dist/src/main.js', import.meta.url)),
  fileURLToPath(new URL('../../../agent-image/dist/src/main.js', import.meta.url)),
].find((file) => existsSync(file));

const RESTART_DELAY_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

interface RunningAgent {
  member: CastMember;
  token: string;
  child?: ChildProcess;
  restarts: number;
}

/**
 * Runs the built-in cast as local processes of the agent runtime (containers come with the fleet).
 * Tokens live in `<data>/cast/<id>.token` (0600), so a restart reuses the same agents; a missing
 * token is replaced by rotating it. Each agent's output goes to `<data>/logs/<id>.log`; a runtime
 * that dies is restarted with back-off.
 */
export class CastLauncher {
  private readonly running: RunningAgent[] = [];
  private stopping = false;

  constructor(
    private readonly agents: AgentsService,
    private readonly options: { dataDir: string; villageUrl: string; runtime?: string },
    private readonly logger: Logger,
  ) {}

  async launch(count: number): Promise<string[]> {
    if (count === 0) return [];
    const runtime = this.options.runtime ?? DEFAULT_RUNTIME;
    if (!runtime) throw new Error('the agent runtime is not built (agent-image/dist/src/main.js); run `npm run build`');
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
    const file = join(this.options.dataDir, 'cast', `${member.id}.token`);
    const exists = await this.agents.get(member.id).then(
      () => true,
      () => false,
    );
    let token: string;
    if (!exists) {
      token = (await this.agents.create(member, { builtIn: true })).token;
    } else if (existsSync(file)) {
      return readFileSync(file, 'utf8').trim();
    } else {
      token = await this.agents.rotateToken(member.id);
    }
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    return token;
  }

  private start(agent: RunningAgent, runtime: string) {
    const log = createWriteStream(join(this.options.dataDir, 'logs', `${agent.member.id}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [runtime], {
      env: {
        ...process.env,
        VILLAGE_URL: this.options.villageUrl,
        VILLAGE_AGENT_ID: agent.member.id,
        VILLAGE_AGENT_TOKEN: agent.token,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    agent.child = child;
    child.on('exit', (code, signal) => {
      log.end();
      if (this.stopping) return;
      const delay = RESTART_DELAY_MS[Math.min(agent.restarts, RESTART_DELAY_MS.length - 1)]!;
      agent.restarts++;
      this.logger.error(
        { agent: agent.member.id, code, signal, restartInMs: delay },
        'agent runtime exited; restarting (see its log)',
      );
      setTimeout(() => !this.stopping && this.start(agent, runtime), delay).unref();
    });
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
