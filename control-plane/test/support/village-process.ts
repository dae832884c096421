// `npm start`'s program as a newcomer runs it: no DATABASE_URL or REDIS_URL (embedded PostgreSQL and a
// local Redis on the given ports), its own data directory, the output kept for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Compiled location: control-plane/dist/test/support/ → control-plane/dist/src/cli/start.js. */
const START = fileURLToPath(new URL('../../src/cli/start.js', import.meta.url));

export interface VillagePorts {
  http: number;
  postgres: number;
  redis: number;
}

export interface VillageProcess {
  child: ChildProcess;
  output(): string;
}

/** Starts the one-command village; `settings` adds or overrides environment variables. */
export function startVillage(dataDir: string, ports: VillagePorts, settings: Record<string, string>): VillageProcess {
  const env: Record<string, string | undefined> = {
    ...process.env,
    VILLAGE_DATA_DIR: dataDir,
    PORT: String(ports.http),
    VILLAGE_EMBEDDED_POSTGRES_PORT: String(ports.postgres),
    VILLAGE_LOCAL_REDIS_PORT: String(ports.redis),
    VILLAGE_TICK_MS: '250',
    LOG_LEVEL: 'warn',
    ...settings,
  };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'VILLAGE_ADMIN_TOKEN', 'VILLAGE_REDIS_PREFIX']) delete env[name];
  const child = spawn(process.execPath, [START], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

/** Ctrl-C, as a person would, and its exit code. */
export async function stopVillage(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
}
