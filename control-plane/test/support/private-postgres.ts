// A PostgreSQL server of a test's own, in a temporary directory on a free loopback port, that the test
// may crash: `crash()` is an immediate shutdown (SIGQUIT to the postmaster), which loses what was not
// yet written to the WAL, as a power cut loses what was not flushed. The shared server is never touched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { eventually } from './eventually.js';

export class PrivatePostgres {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'village-private-pg-'));
  private readonly bin = postgresBinaries();
  private initialised = false;
  output = '';

  /** `settings`: server settings (`-c name=value`) on top of the defaults. */
  constructor(
    readonly port: number,
    private readonly settings: Record<string, string> = {},
  ) {}

  get url() {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user. */
  private command(program: string, args: string[]): [string, string[]] {
    const path = join(this.bin, program);
    return userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  }

  async start() {
    const data = join(this.dir, 'data');
    if (!this.initialised) {
      if (userInfo().uid === 0)
        chownSync(this.dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout), 0);
      const [program, args] = this.command('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
      const init = spawnSync(program, args, { encoding: 'utf8', cwd: this.dir });
      if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
      this.initialised = true;
    }
    const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: this.dir, ...this.settings };
    const [program, args] = this.command('postgres', [
      ...['-D', data, '-p', String(this.port)],
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ]);
    this.child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir });
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-20_000));
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    await eventually(
      async () => {
        const client = new pg.Client({ connectionString: this.url });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } catch {
          return false;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      `the private PostgreSQL to accept connections (output: ${this.output.slice(-800)})`,
      30_000,
    );
  }

  /** An immediate shutdown: every backend killed at once, nothing flushed, recovery on the next start. */
  crash() {
    return this.stop('SIGQUIT');
  }

  private stop(signal: NodeJS.Signals) {
    return new Promise<void>((resolve) => {
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      // The postmaster itself (the child may be runuser, which waits for it).
      const postmaster = Number(readFileSync(join(this.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(postmaster, signal);
    });
  }

  async dispose() {
    await this.stop('SIGQUIT').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Where initdb and postgres are: pg_config's answer, else Debian's newest /usr/lib/postgresql/<version>/bin. */
function postgresBinaries(): string {
  const configured = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' }).stdout?.trim();
  if (configured && existsSync(join(configured, 'initdb'))) return configured;
  const versions = existsSync(DEBIAN_POSTGRES)
    ? readdirSync(DEBIAN_POSTGRES).sort((a, b) => Number(b) - Number(a))
    : [];
  const found = versions
    .map((version) => join(DEBIAN_POSTGRES, version, 'bin'))
    .find((bin) => existsSync(join(bin, 'initdb')));
  if (!found) throw new Error('no PostgreSQL server programs (initdb, postgres) found: install postgresql');
  return found;
}

const DEBIAN_POSTGRES = '/usr/lib/postgresql';
