// `npm run bench -- console`: the moderators' console as people get it (the built admin/ served at /admin)
// against a village with 10,000 transfers and 10,000 audit entries. Measures the console's first load in
// real Chromium (to the sign-in form, and from signing in to the dashboard's figures and to the first page
// of transfers) and the list endpoints react-admin calls: p50/p99 of a 25-row page, with and without filters.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PATHS } from '../src/paths.js';
import { launchChromium } from '../test/support/chromium.js';
import { ADMIN_TOKEN, createTestEnvironment, startTestApp } from '../test/support/test-app.js';
import { inBatches } from './batches.js';
import { percentile } from './load.js';
import { ms, printColumns } from './table.js';

const ROWS = Number(process.env.BENCH_CONSOLE_ROWS ?? 10_000);
const AGENTS = Number(process.env.BENCH_CONSOLE_AGENTS ?? 50);
const SAMPLES = Number(process.env.BENCH_CONSOLE_SAMPLES ?? 300);
const ADMIN = { login: 'bench-admin@village.test', password: 'bench admin password' };

if (!existsSync(join(PATHS.adminConsole, 'index.html'))) {
  console.error(`the console is not built (${PATHS.adminConsole}): run npm run build`);
  process.exit(1);
}

const environment = await createTestEnvironment({
  VILLAGE_TICK_MS: '60000',
  VILLAGE_ADMIN_EMAIL: ADMIN.login,
  VILLAGE_ADMIN_PASSWORD: ADMIN.password,
  LOG_LEVEL: 'warn',
});
const village = await startTestApp(environment);

try {
  const agents = Array.from({ length: AGENTS }, (_, i) => `bench-agent-${i}`);
  await inBatches(AGENTS, 10, (i) => village.admin.createAgent({ id: agents[i]!, displayName: agents[i]! }));
  const seeding = performance.now();
  // Transfers go through the ledger as any would (hash chains, balances), so the list reads real rows.
  const reasons = ['grant', 'transfer'] as const;
  await inBatches(ROWS, 16, (i) =>
    village.admin.createTransfer({
      debitAccount: 'treasury',
      creditAccount: `agent:${agents[i % AGENTS]}`,
      amount: 1000 + (i % 97),
      reason: reasons[i % 2]!,
      memo: `bench ${i}`,
    }),
  );
  const pool = (await import('pg')).default;
  const database = new pool.Pool({ connectionString: environment.env.DATABASE_URL });
  await database.query(
    `INSERT INTO audit_log (actor_type, actor_id, action, subject_type, subject_id, after, reason)
     SELECT 'system', 'system', CASE WHEN n % 3 = 0 THEN 'post.moderated' ELSE 'agent.tier_settings' END,
            'agent', 'bench-agent-' || (n % ${AGENTS}), jsonb_build_object('n', n), 'bench'
       FROM generate_series(1, ${ROWS}) n`,
  );
  await database.query('ANALYZE');
  await database.end();
  console.log(`seeded ${ROWS} transfers and ${ROWS} audit entries in ${ms(performance.now() - seeding)}`);

  // The list calls exactly as ra-data-simple-rest sends them, timed at the client over loopback.
  const since = new Date(Date.now() - 60_000).toISOString();
  const lists: [string, string, Record<string, unknown>, [string, string], [number, number]][] = [
    ['transfers, first page', 'transfers', {}, ['id', 'DESC'], [0, 24]],
    ['transfers, page 361 of 400', 'transfers', {}, ['id', 'DESC'], [9000, 9024]],
    ['transfers by agent and reason', 'transfers', { agentId: agents[8], reason: 'grant' }, ['id', 'DESC'], [0, 24]],
    ['transfers since a time, by amount', 'transfers', { since }, ['amount', 'DESC'], [0, 24]],
    ['audit, first page', 'audit', {}, ['id', 'DESC'], [0, 24]],
    [
      'audit by action and subject',
      'audit',
      { action: 'post.moderated', subjectId: agents[3] },
      ['id', 'DESC'],
      [0, 24],
    ],
  ];
  const rows: string[][] = [];
  for (const [name, resource, filter, sort, range] of lists) {
    const query = new URLSearchParams({
      sort: JSON.stringify(sort),
      range: JSON.stringify(range),
      filter: JSON.stringify(filter),
    });
    const times: number[] = [];
    let total = '';
    for (let i = 0; i < SAMPLES; i++) {
      const started = performance.now();
      const response = await fetch(`${village.url}/api/${resource}?${query}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      await response.arrayBuffer();
      times.push(performance.now() - started);
      if (response.status !== 200) throw new Error(`${name}: ${response.status}`);
      total = response.headers.get('content-range') ?? '';
    }
    rows.push([name, total, ms(percentile(times, 50)), ms(percentile(times, 99)), ms(Math.max(...times))]);
  }
  printColumns(['list (25 rows, as react-admin asks)', 'Content-Range', 'p50', 'p99', 'max'], rows, {
    first: 2,
    last: 4,
  });

  // First load in real Chromium, with an empty cache each time.
  const browser = await launchChromium();
  const loads: string[][] = [];
  try {
    const signIn: number[] = [];
    const dashboard: number[] = [];
    const transfers: number[] = [];
    for (let i = 0; i < 5; i++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      let started = performance.now();
      await page.goto(`${village.url}/admin/`);
      await page.locator('input[name="username"]').waitFor();
      signIn.push(performance.now() - started);
      await page.locator('input[name="username"]').fill(ADMIN.login);
      await page.locator('input[name="password"]').fill(ADMIN.password);
      started = performance.now();
      await page.locator('button[type="submit"]').click();
      await page.getByTestId('dash-circulation').filter({ hasText: /^\d/ }).waitFor();
      await page.getByTestId('dash-agents-online').filter({ hasText: /^\d/ }).waitFor();
      dashboard.push(performance.now() - started);
      started = performance.now();
      await page.goto(`${village.url}/admin/#/transfers`);
      await page.locator('.RaList-main tbody tr').nth(24).waitFor();
      transfers.push(performance.now() - started);
      await context.close();
    }
    loads.push(['open /admin/ to the sign-in form (cold cache)', ms(percentile(signIn, 50)), ms(Math.max(...signIn))]);
    loads.push(['sign in to the dashboard’s figures', ms(percentile(dashboard, 50)), ms(Math.max(...dashboard))]);
    loads.push([
      `reload to the first 25 of ${ROWS} transfers`,
      ms(percentile(transfers, 50)),
      ms(Math.max(...transfers)),
    ]);
  } finally {
    await browser.close();
  }
  printColumns(['console first load (Chromium, 5 runs)', 'median', 'max'], loads, { first: 1, last: 2 });
  console.log(
    `load average at the end: ${(await import('node:os'))
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await village.close();
  await environment.dispose();
}
