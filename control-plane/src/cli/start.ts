// `npm start`: the whole village on one machine with no configuration. Uses DATABASE_URL and
// REDIS_URL when given; otherwise starts an embedded PostgreSQL and a local redis-server with
// their data under VILLAGE_DATA_DIR, then the control plane, then the VILLAGE_CAST agents.
import { mkdirSync } from 'node:fs';
import { z } from 'zod';
import { join } from 'node:path';
import { AgentsService } from '../agents/agents.service.js';
import { createApp } from '../app.js';
import { CastLauncher } from '../cast/cast-launcher.js';
import { AGENT_RUNTIMES, chooseAgentRuntime, ContainerCast } from '../cast/container-cast.js';
import { FleetAgentsService } from '../fleet/fleet-agents.service.js';
import { FleetReconciler } from '../fleet/fleet-reconciler.service.js';
import { NodesService } from '../fleet/nodes.service.js';
import { ConfigError, loadConfig, withoutEmpty } from '../config/config.js';
import { createLogger } from '../logging/logger.js';
import { closeApp } from '../lifecycle/close-app.js';
import { stopOnSignals } from '../lifecycle/stop-on-signals.js';
import { describeStartUpFailure } from '../lifecycle/start-up-failure.js';
import { persistentSecret, startEmbeddedPostgres, startLocalRedis, type LocalService } from './local-services.js';

const LauncherSettingsSchema = z.object({
  /** Port of the embedded PostgreSQL (when no DATABASE_URL is given). */
  VILLAGE_EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  /** Port of the local redis-server (when no REDIS_URL is given). */
  VILLAGE_LOCAL_REDIS_PORT: z.coerce.number().int().min(1).max(65535).default(63799),
  /** The cast as local processes, as containers on this machine's engine, or `auto` (docs/DEPLOYMENT.md). */
  VILLAGE_AGENT_RUNTIME: z.enum(AGENT_RUNTIMES, { error: 'must be auto, processes or containers' }).default('auto'),
});

async function main() {
  // embedded-postgres registers signal hooks that exit(130) mid-shutdown; this launcher stops
  // PostgreSQL itself, after the app and the cast, so it owns SIGINT and SIGTERM alone.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  const env = { ...process.env };
  // Validate what was given before starting anything (the URLs are filled in below).
  const preview = loadConfig({
    ...env,
    DATABASE_URL: env.DATABASE_URL || 'postgresql://x/x',
    REDIS_URL: env.REDIS_URL || 'redis://x',
  });
  const logger = createLogger(preview.LOG_LEVEL, preview.VILLAGE_REPLICA_ID);
  env.VILLAGE_REPLICA_ID = preview.VILLAGE_REPLICA_ID;
  const dataDir = preview.VILLAGE_DATA_DIR;
  const launcher = LauncherSettingsSchema.safeParse(withoutEmpty(env));
  if (!launcher.success) {
    throw new ConfigError(launcher.error.issues.map((issue) => `${String(issue.path[0])} ${issue.message}`));
  }
  const ports = launcher.data;
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });

  const services: LocalService[] = [];
  const stopServices = async () => {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
  };
  try {
    if (!env.DATABASE_URL) {
      const postgres = await startEmbeddedPostgres(dataDir, ports.VILLAGE_EMBEDDED_POSTGRES_PORT, logger);
      services.push(postgres);
      env.DATABASE_URL = postgres.url;
    }
    if (!env.REDIS_URL) {
      const redis = await startLocalRedis(dataDir, ports.VILLAGE_LOCAL_REDIS_PORT, logger);
      services.push(redis);
      env.REDIS_URL = redis.url;
    }
    env.VILLAGE_ADMIN_TOKEN ||= persistentSecret(join(dataDir, 'admin-token'), 32);
    // Sessions survive restarts: the signing secret is kept with the data.
    env.VILLAGE_JWT_SECRET ||= persistentSecret(join(dataDir, 'jwt-secret'), 48);
    env.VILLAGE_SECRETS_KEY ||= persistentSecret(join(dataDir, 'secrets-key'), 48);
    // The flows' credentials stay readable across restarts.
    env.VILLAGE_FLOWS_CREDENTIAL_SECRET ||= persistentSecret(join(dataDir, 'flows-credential-secret'), 48);
    // The first admin person, unless one is configured.
    const adminPasswordFile = join(dataDir, 'admin-password');
    if (!env.VILLAGE_ADMIN_EMAIL && !env.VILLAGE_ADMIN_PASSWORD) {
      env.VILLAGE_ADMIN_EMAIL = 'admin@village.local';
      env.VILLAGE_ADMIN_PASSWORD = persistentSecret(adminPasswordFile, 18);
    }
    // With an LLM upstream the cast thinks with the gateway; without one, with the scripted brain.
    const brain = preview.VILLAGE_LLM_UPSTREAMS.length > 0 ? 'llm' : 'scripted';
    const runtime =
      preview.VILLAGE_CAST > 0
        ? await chooseAgentRuntime(ports.VILLAGE_AGENT_RUNTIME, logger)
        : { runtime: 'processes' as const, why: 'no cast' };
    if (runtime.runtime === 'containers') {
      env.VILLAGE_FLEET_AGENT_SETTINGS ||= JSON.stringify({
        VILLAGE_AGENT_BRAIN: process.env.VILLAGE_AGENT_BRAIN || brain,
      });
    }
    const config = loadConfig(env);
    const app = await createApp(config, logger);
    await app.listen(config.PORT, config.HOST);
    const url = `http://localhost:${config.PORT}`;
    // Agents reach the control plane on loopback unless it listens on one address only.
    const agentHost = ['0.0.0.0', '::'].includes(config.HOST) ? '127.0.0.1' : config.HOST;
    const villageUrl = `http://${agentHost.includes(':') ? `[${agentHost}]` : agentHost}:${config.PORT}`;
    const fleet = app.get(FleetAgentsService);
    const cast =
      runtime.runtime === 'containers'
        ? new ContainerCast(
            {
              agents: app.get(AgentsService),
              nodes: app.get(NodesService),
              fleet,
              reconciler: app.get(FleetReconciler),
            },
            { dataDir, villageUrl, image: runtime.image, socketPath: runtime.socketPath },
            logger,
          )
        : new CastLauncher(app.get(AgentsService), { dataDir, villageUrl, brain, holds: fleet }, logger);
    const launched = await cast.launch(config.VILLAGE_CAST);

    console.log(
      [
        '',
        `  AI Village is running at ${url}/`,
        `  agents: ${launched.length ? launched.join(', ') : 'none (VILLAGE_CAST=0)'}   data: ${dataDir}`,
        `  agents run as: ${runtime.runtime === 'containers' ? `containers on node local (${runtime.image})` : `local processes (${runtime.why})`}`,
        `  admin token: ${env.VILLAGE_ADMIN_TOKEN === process.env.VILLAGE_ADMIN_TOKEN ? 'VILLAGE_ADMIN_TOKEN' : join(dataDir, 'admin-token')}`,
        `  admin sign-in: ${config.VILLAGE_ADMIN_EMAIL ?? 'none configured'}${env.VILLAGE_ADMIN_PASSWORD === process.env.VILLAGE_ADMIN_PASSWORD ? '' : `, password in ${adminPasswordFile}`}`,
        '  Ctrl-C stops it; the village resumes where it stopped on the next start.',
        '',
      ].join('\n'),
    );

    stopOnSignals(logger, async () => {
      await cast.stop();
      await closeApp(app);
      await stopServices();
    });
  } catch (error) {
    await stopServices();
    throw error;
  }
}

main().catch((error: unknown) => {
  console.error(`The village did not start: ${describeStartUpFailure(error)}`);
  process.exit(1);
});
