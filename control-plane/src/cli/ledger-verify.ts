// `npm run ledger:verify`: re-walks the ledger's hash chains and balances and reports the first
// discrepancy (exit 1), or that every check passed (exit 0). Uses DATABASE_URL when given; otherwise
// the village's own embedded PostgreSQL under VILLAGE_DATA_DIR (started for the check if the village
// is not running). `--json` prints the report as JSON.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { formatAiDollars, type LedgerVerification } from '../contract/index.js';
import { createLogger } from '../logging/logger.js';
import { verifyLedger } from '../ledger/ledger-verify.js';
import { startEmbeddedPostgres, type LocalService } from './local-services.js';

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  let embedded: LocalService | undefined;
  let url = process.env.DATABASE_URL;
  if (!url) {
    const dataDir = resolve(process.env.VILLAGE_DATA_DIR || '.village');
    const port = Number(process.env.VILLAGE_EMBEDDED_POSTGRES_PORT || 54329);
    const passwordFile = join(dataDir, 'postgres-password');
    if (!existsSync(passwordFile)) {
      console.error(
        `no DATABASE_URL and no village data in ${dataDir}: set DATABASE_URL or run from the village's folder`,
      );
      return 2;
    }
    url = `postgresql://village:${encodeURIComponent(readFileSync(passwordFile, 'utf8').trim())}@127.0.0.1:${port}/village`;
    if (!(await reachable(url))) {
      embedded = await startEmbeddedPostgres(dataDir, port, createLogger('warn', 'ledger-verify'));
      url = embedded.url;
    }
  }
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  try {
    const report = await verifyLedger(pool);
    console.log(json ? JSON.stringify(report, null, 2) : describe(report));
    return report.ok ? 0 : 1;
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

function describe(report: LedgerVerification): string {
  const counted = `${report.transfers} transfers, ${report.entries} entries, ${report.accounts} accounts in ${report.durationMs} ms`;
  if (report.ok) return `ledger verified: ${counted}; the entries sum to ${formatAiDollars(report.sumOfEntries)}`;
  return `LEDGER DISCREPANCY: ${report.firstDiscrepancy!.problem}\n(checked ${counted})`;
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`ledger:verify failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
