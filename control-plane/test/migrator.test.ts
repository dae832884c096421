import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { applyMigrations, readMigrations } from '../src/database/migrator.js';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';

describe('migrations applied at start, recorded the way Prisma records them', () => {
  let database: TestDatabase;
  let pool: pg.Pool;

  before(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url });
  });
  after(async () => {
    await pool?.end();
    await database?.drop();
  });

  test('applies every migration once, with checksums in _prisma_migrations', async () => {
    const migrations = readMigrations();
    assert.ok(migrations.length > 0);
    // Two replicas starting together: the advisory lock lets one apply, the other sees it done.
    const [first, second] = await Promise.all([applyMigrations(pool), applyMigrations(pool)]);
    assert.deepEqual([...first!, ...second!].sort(), migrations.map((m) => m.name).sort());
    const { rows } = await pool.query(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" ORDER BY migration_name',
    );
    assert.deepEqual(
      rows.map((r) => [r.migration_name, r.checksum]),
      migrations.map((m) => [m.name, m.checksum]),
    );
    assert.ok(rows.every((r) => r.finished_at));
    assert.deepEqual(await applyMigrations(pool), [], 'nothing left to apply');
  });

  test('a migration edited after it was applied stops start-up', async () => {
    const edited = readMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'f'.repeat(64) } : m));
    await assert.rejects(applyMigrations(pool, edited), /was edited after it was applied/);
  });

  test('a failing migration is rolled back and named', async () => {
    const broken = [
      ...readMigrations(),
      { name: '99999999999999_broken', sql: 'CREATE TABLE x (; ', checksum: '0'.repeat(64) },
    ];
    await assert.rejects(applyMigrations(pool, broken), /migration 99999999999999_broken failed/);
    const { rows } = await pool.query(
      `SELECT 1 FROM "_prisma_migrations" WHERE migration_name = '99999999999999_broken'`,
    );
    assert.equal(rows.length, 0);
  });

  test('the migrated schema is the one the Prisma client was generated from', async () => {
    // Reading every model through Prisma selects every mapped column: a missing one fails here.
    const { PrismaClient } = await import('../src/generated/prisma/client.js');
    const { PrismaPg } = await import('@prisma/adapter-pg');
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: database.url }) });
    try {
      const clock = await prisma.worldClock.findUniqueOrThrow({ where: { id: 1 } });
      assert.equal(clock.tick, 0n);
      await prisma.agent.create({
        data: { id: 'probe', displayName: 'Probe', persona: '', x: 1, y: 2, tokenHash: 'h', path: [3, 4] },
      });
      const agent = await prisma.agent.findUniqueOrThrow({ where: { id: 'probe' } });
      assert.deepEqual(agent.path, [3, 4]);
      assert.equal(agent.online, false);
      // The agent's economy was opened by the trigger; every ledger and tier model reads back.
      const account = await prisma.ledgerAccount.findUniqueOrThrow({
        where: { agentId: 'probe' },
        include: { agent: true },
      });
      assert.equal(account.id, 'agent:probe');
      assert.equal(account.headHash.length, 32);
      assert.equal((await prisma.agentTier.findUniqueOrThrow({ where: { agentId: 'probe' } })).tier, 0);
      assert.equal(await prisma.ledgerSystemAccount.count(), 5);
      assert.equal(await prisma.ledgerAccount.count({ where: { kind: 'system' } }), 40);
      assert.deepEqual(await prisma.ledgerTransfer.findMany({ include: { entries: true, openHold: true } }), []);
      assert.deepEqual(await prisma.ledgerEntry.findMany(), []);
      assert.deepEqual(await prisma.ledgerOpenHold.findMany(), []);
      assert.deepEqual(await prisma.tierPolicy.findMany(), []);
      assert.equal((await prisma.agentTier.findUniqueOrThrow({ where: { agentId: 'probe' } })).pausedAt, null);
      assert.deepEqual(await prisma.llmUpstream.findMany(), []);
      assert.deepEqual(await prisma.llmModel.findMany(), []);
      assert.deepEqual(await prisma.llmUsage.findMany({ include: { hold: true, transfer: true } }), []);
      assert.deepEqual(await prisma.toolCall.findMany({ include: { agent: true } }), []);
      assert.deepEqual(await prisma.agentEpisode.findMany({ include: { agent: true } }), []);
      assert.deepEqual(await prisma.agentMemory.findMany({ include: { agent: true } }), []);
    } finally {
      await prisma.$disconnect();
    }
  });
});
