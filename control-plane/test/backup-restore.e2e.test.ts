// The backup and restore scripts of deploy/scripts against a real village database: a backup taken
// while the village runs restores into a new database with the same agents, posts and ledger, and the
// ledger verifies there; a restore never writes over a database with tables, refuses a backup that
// does not match its checksum, and a restored ledger that was tampered with does not verify.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { VillageClient } from '../src/contract/index.js';
import { TEST_POSTGRES_URL } from './support/test-database.js';
import { createTestEnvironment, startTestApp, type TestApp, type TestEnvironment } from './support/test-app.js';

const SCRIPTS = fileURLToPath(new URL('../../../deploy/scripts/', import.meta.url));
const VERIFY = fileURLToPath(new URL('../src/cli/ledger-verify.js', import.meta.url));

function run(command: string, args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function databaseUrl(name: string) {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withDatabase<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** What a restore must bring back: row counts and every account's balance. */
function contents(url: string) {
  return withDatabase(url, async (client) => {
    const count = async (table: string) => Number((await client.query(`SELECT count(*) FROM ${table}`)).rows[0].count);
    const balances = await client.query('SELECT id, balance::text, held::text FROM ledger_accounts ORDER BY id');
    return {
      agents: await count('agents'),
      posts: await count('posts'),
      transfers: await count('ledger_transfers'),
      entries: await count('ledger_entries'),
      migrations: await count('_prisma_migrations'),
      balances: balances.rows,
    };
  });
}

describe('backup and restore', { timeout: 120_000 }, () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let backups: string;
  const restored = new Set<string>();

  before(async () => {
    environment = await createTestEnvironment();
    village = await startTestApp(environment);
    backups = mkdtempSync(join(tmpdir(), 'village-backups-'));
    for (const id of ['ada', 'basil', 'clara']) {
      const agent = await village.admin.createAgent({ id, displayName: id });
      await village.admin.createTransfer({
        debitAccount: 'treasury',
        creditAccount: `agent:${id}`,
        amount: 10_000,
        reason: 'grant',
      });
      await new VillageClient({ baseUrl: village.url, token: agent.token }).createPost({
        title: `${id} was here`,
        body: 'before the backup',
      });
    }
    await village.admin.createTransfer({
      debitAccount: 'agent:ada',
      creditAccount: 'agent:basil',
      amount: 1234,
      reason: 'transfer',
    });
  });

  after(async () => {
    await village?.close();
    for (const name of restored) {
      await withDatabase(TEST_POSTGRES_URL, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    }
    await environment?.dispose();
    if (backups) rmSync(backups, { recursive: true, force: true });
  });

  const backup = () =>
    run(join(SCRIPTS, 'village-backup.sh'), [backups], {
      DATABASE_URL: environment.database.url,
      VILLAGE_BACKUP_KEEP: '2',
    });
  const restore = (name: string, ...options: string[]) => {
    restored.add(name);
    return run(join(SCRIPTS, 'village-restore.sh'), [...options], { DATABASE_URL: databaseUrl(name) });
  };

  test('a backup of the running village restores into a new database, and its ledger verifies', async () => {
    const taken = await backup();
    assert.equal(taken.code, 0, taken.stderr);
    const file = taken.stdout.trim();
    assert.match(file, /village-\d{8}T\d{6}Z\.dump$/);

    const target = `${environment.database.name}_restored`;
    const result = await restore(target, '--create', file);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /ledger verified: \d+ transfers/);
    assert.deepEqual(await contents(databaseUrl(target)), await contents(environment.database.url));

    // A control plane starts on the restored copy (no migration left to apply) and serves its state.
    const copy = await startTestApp({ ...environment, env: { ...environment.env, DATABASE_URL: databaseUrl(target) } });
    try {
      const basil = await copy.admin.balance('basil');
      assert.equal(basil.balance, 11_234);
      assert.equal((await copy.admin.verifyLedger()).ok, true);
    } finally {
      await copy.close();
    }
  });

  test('a restore never writes over a database with tables', async () => {
    const file = (await backup()).stdout.trim();
    const result = await restore(environment.database.name, file);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /the target database has \d+ tables: restore into an empty database/);
  });

  test('a backup that does not match its checksum is refused', async () => {
    const file = (await backup()).stdout.trim();
    const damaged = join(backups, 'damaged.dump');
    await run('cp', [file, damaged], {});
    await run('cp', [`${file}.sha256`, `${damaged}.sha256`], {});
    await run('sed', ['-i', 's/village-[0-9TZ]*\\.dump/damaged.dump/', `${damaged}.sha256`], {});
    appendFileSync(damaged, 'x');
    const result = await restore(`${environment.database.name}_damaged`, '--create', damaged);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /does not match its checksum/);
  });

  test('only the newest VILLAGE_BACKUP_KEEP backups are kept', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100)); // names are to the second
    assert.equal((await backup()).code, 0);
    const kept = readdirSync(backups).filter((name) => /^village-.*\.dump$/.test(name));
    assert.equal(kept.length, 2, kept.join(', '));
  });

  test('a restored ledger that was tampered with does not verify', async () => {
    const file = (await backup()).stdout.trim();
    const target = `${environment.database.name}_tampered`;
    assert.equal((await restore(target, '--create', '--no-verify', file)).code, 0);
    await withDatabase(databaseUrl(target), (client) =>
      client.query(`UPDATE ledger_accounts SET balance = balance + 1 WHERE agent_id = 'clara'`),
    );
    const verified = await run(process.execPath, [VERIFY], { DATABASE_URL: databaseUrl(target) });
    assert.equal(verified.code, 1, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /LEDGER DISCREPANCY/);
  });
});
