// A village for the economy's HTTP tests: one control plane with set allowances, a signed-in admin,
// people and agents made on demand, and the checks those tests share (a refusal, the ledger's size).
import assert from 'node:assert/strict';
import pg from 'pg';
import { VillageApiError, VillageClient, type Agent } from '../../src/contract/index.js';
import { createTestEnvironment, signUpPerson, startTestApp, type TestApp, type TestEnvironment } from './test-app.js';

export const ECONOMY_ADMIN_EMAIL = 'mayor@village.test';
export const ECONOMY_ADMIN_PASSWORD = 'mayor-password-123';
/** Daily allowances (mills): a person may reward 5 and penalize 3 aiDollars a day. */
export const ECONOMY_ALLOWANCES = {
  human: { reward: 5000, penalty: 3000 },
  moderator: { reward: 50000, penalty: 30000 },
  admin: { reward: null, penalty: null },
};

export type EconomyAgent = Agent & { token: string; client: VillageClient };

export interface EconomyVillage {
  environment: TestEnvironment;
  village: TestApp;
  /** A direct connection to the test database, for what the API does not show. */
  database: pg.Pool;
  /** Signed in as the admin person (a user with the admin role, unlike `village.admin`'s token). */
  admin: VillageClient;
  /** A new signed-in person (`judge<n>`), made a moderator on request. */
  person(role?: 'human' | 'moderator'): ReturnType<typeof signUpPerson>;
  /** A new agent (`agent<n>`, broke, tier 0) with a client carrying its token. */
  agent(): Promise<EconomyAgent>;
  /** How many transfers the ledger holds. */
  transferCount(): Promise<number>;
  close(): Promise<void>;
}

export async function startEconomyVillage(overrides: Record<string, string> = {}): Promise<EconomyVillage> {
  const environment = await createTestEnvironment({
    VILLAGE_TICK_MS: '60000',
    VILLAGE_ADMIN_EMAIL: ECONOMY_ADMIN_EMAIL,
    VILLAGE_ADMIN_PASSWORD: ECONOMY_ADMIN_PASSWORD,
    VILLAGE_ALLOWANCES: JSON.stringify(ECONOMY_ALLOWANCES),
    ...overrides,
  });
  const village = await startTestApp(environment);
  const database = new pg.Pool({ connectionString: environment.database.url, max: 2 });
  const admin = new VillageClient({ baseUrl: village.url });
  admin.setToken((await admin.signIn({ login: ECONOMY_ADMIN_EMAIL, password: ECONOMY_ADMIN_PASSWORD })).accessToken);
  let people = 0;
  let agents = 0;
  return {
    environment,
    village,
    database,
    admin,
    async person(role = 'human') {
      const signedUp = await signUpPerson(village.url, `judge${++people}`);
      if (role !== 'human') await admin.updateUser(signedUp.user.id, { role });
      return signedUp;
    },
    async agent() {
      const created = await village.admin.createAgent({ id: `agent${++agents}`, displayName: `Agent ${agents}` });
      return { ...created, client: new VillageClient({ baseUrl: village.url, token: created.token }) };
    },
    async transferCount() {
      return Number((await database.query('SELECT count(*) FROM ledger_transfers')).rows[0].count);
    },
    async close() {
      await database.end();
      await village.close();
      await environment.dispose();
    },
  };
}

/** The call fails with this status and a message matching `message`. */
export async function refused(call: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof VillageApiError, String(error));
    assert.equal(error.status, status, error.message);
    assert.match(error.body?.message ?? '', message);
    return true;
  });
}
