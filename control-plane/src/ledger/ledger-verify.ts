import type pg from 'pg';
import type { LedgerVerification } from '../contract/index.js';

type Queryable = Pick<pg.Pool, 'query'>;
type Discrepancy = NonNullable<LedgerVerification['firstDiscrepancy']>;

const GENESIS = `decode(repeat('00', 32), 'hex')`;

/**
 * Each check finds the first row that breaks one rule of the ledger, as (transfer_id, account, problem).
 * Together they prove: every transfer's hash matches its content and its accounts' previous hashes;
 * each account's entries form an unbroken chain with running balances; the stored balances, holds and
 * heads equal what the entries say; every transfer has two entries that cancel out, and every entry a
 * transfer and an account (what foreign keys would guard; the ledger has none there); no agent is below
 * zero; no idempotency key was used twice; and open holds are exactly the unresolved ones.
 */
const CHECKS: string[] = [
  // Transfers: two entries, the right amounts, and a hash that matches.
  `SELECT t.id AS transfer_id, NULL AS account, CASE
      WHEN d.transfer_id IS NULL OR c.transfer_id IS NULL THEN 'is missing the entry of one of its accounts'
      WHEN d.amount + c.amount <> 0 THEN 'has entries that do not sum to zero'
      WHEN c.amount <> CASE WHEN t.kind IN ('posted', 'post_pending') THEN t.amount ELSE 0 END
        THEN 'moves a different amount than it states'
      WHEN c.held_change <> 0 OR d.held_change <> CASE t.kind WHEN 'pending' THEN t.amount
          WHEN 'posted' THEN 0 ELSE -coalesce(p.amount, 0) END
        THEN 'changes what is held by the wrong amount'
      WHEN t.kind IN ('post_pending', 'void_pending') AND (p.id IS NULL OR p.kind <> 'pending'
           OR p.debit_account <> t.debit_account OR p.credit_account <> t.credit_account)
        THEN 'resolves something that is not its hold'
      WHEN t.kind = 'post_pending' AND t.amount > p.amount THEN 'settles more than its hold reserved'
      WHEN ledger_transfer_hash(t, d.prev_hash, c.prev_hash) <> t.hash THEN 'does not match its hash (its content was changed)'
    END AS problem
    FROM ledger_transfers t
    LEFT JOIN ledger_entries d ON d.transfer_id = t.id AND d.account_id = t.debit_account
    LEFT JOIN ledger_entries c ON c.transfer_id = t.id AND c.account_id = t.credit_account
    LEFT JOIN ledger_transfers p ON p.id = t.pending_id`,
  // Entries that belong to no transfer, to a transfer that does not name their account, or to no account
  // (the ledger has no foreign keys for these: ledger_transfer writes every row, this proves it did).
  `SELECT e.transfer_id, e.account_id AS account, CASE
      WHEN t.id IS NULL OR e.account_id NOT IN (t.debit_account, t.credit_account)
        THEN 'has an entry that its transfer does not name'
      ELSE 'has entries but is not an account'
    END AS problem
    FROM ledger_entries e LEFT JOIN ledger_transfers t ON t.id = e.transfer_id
    LEFT JOIN ledger_accounts a ON a.id = e.account_id
   WHERE t.id IS NULL OR e.account_id NOT IN (t.debit_account, t.credit_account) OR a.id IS NULL`,
  // Each account's chain: numbered without gaps, each entry pointing at the previous transfer's hash,
  // running balances as stated.
  `SELECT transfer_id, account_id AS account, CASE
      WHEN seq <> n THEN 'breaks the numbering of its account''s entries (one is missing)'
      WHEN prev_hash <> coalesce(previous_hash, ${GENESIS}) THEN 'breaks its account''s hash chain'
      WHEN balance_after <> running_balance THEN 'states a balance that is not the sum of the entries before it'
      WHEN held_after <> running_held THEN 'states a held amount that is not the sum of the entries before it'
    END AS problem
    FROM (SELECT e.*, row_number() OVER w AS n, lag(t.hash) OVER w AS previous_hash,
                 sum(e.amount) OVER w AS running_balance, sum(e.held_change) OVER w AS running_held
            FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id
          WINDOW w AS (PARTITION BY e.account_id ORDER BY e.seq)) chain`,
  // Stored account rows equal their entries.
  `SELECT last.transfer_id, a.id AS account, CASE
      WHEN a.balance <> coalesce(s.balance, 0) THEN 'has a stored balance that is not the sum of its entries'
      WHEN a.held <> coalesce(s.held, 0) THEN 'has a stored held amount that is not the sum of its entries'
      WHEN a.entry_count <> coalesce(s.entries, 0) THEN 'has a stored entry count that does not match its entries'
      WHEN a.head_hash <> coalesce(last.hash, ${GENESIS}) THEN 'has a head hash that is not its latest transfer''s'
      WHEN a.kind = 'agent' AND a.balance - a.held < 0 THEN 'is below zero'
      WHEN a.held <> coalesce(h.held, 0) THEN 'holds an amount other than its open holds'
    END AS problem
    FROM ledger_accounts a
    LEFT JOIN (SELECT account_id, sum(amount) AS balance, sum(held_change) AS held, count(*) AS entries, max(seq) AS seq
                 FROM ledger_entries GROUP BY account_id) s ON s.account_id = a.id
    LEFT JOIN LATERAL (SELECT e.transfer_id, t.hash FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id
                        WHERE e.account_id = a.id ORDER BY e.seq DESC LIMIT 1) last ON true
    LEFT JOIN (SELECT t.debit_account, sum(t.amount) AS held FROM ledger_open_holds o
                 JOIN ledger_transfers t ON t.id = o.transfer_id GROUP BY t.debit_account) h ON h.debit_account = a.id`,
  // Open holds are exactly the holds nobody settled or released.
  `SELECT t.id AS transfer_id, t.debit_account AS account, CASE
      WHEN r.id IS NULL AND o.transfer_id IS NULL THEN 'is a hold that was neither resolved nor is open'
      WHEN r.id IS NOT NULL AND o.transfer_id IS NOT NULL THEN 'is a resolved hold still listed as open'
    END AS problem
    FROM ledger_transfers t
    LEFT JOIN ledger_transfers r ON r.pending_id = t.id
    LEFT JOIN ledger_open_holds o ON o.transfer_id = t.id
   WHERE t.kind = 'pending'`,
  // An idempotency key used twice (possible only around the unique index).
  `SELECT max(id) AS transfer_id, NULL AS account, 'reuses an idempotency key' AS problem
     FROM ledger_transfers GROUP BY idempotency_key HAVING count(*) > 1`,
];

/** Re-walks the whole ledger; reports the first discrepancy (lowest transfer id) or none. */
export async function verifyLedger(database: Queryable): Promise<LedgerVerification> {
  const started = performance.now();
  const findings = await Promise.all(
    CHECKS.map(async (check) => {
      const { rows } = await database.query<{ transfer_id: string | null; account: string | null; problem: string }>(
        `SELECT * FROM (${check}) found WHERE problem IS NOT NULL ORDER BY transfer_id NULLS LAST LIMIT 1`,
      );
      return rows[0];
    }),
  );
  const { rows } = await database.query<{ transfers: string; entries: string; accounts: string; sum: string }>(
    `SELECT (SELECT count(*) FROM ledger_transfers) AS transfers,
            (SELECT count(*) FROM ledger_entries) AS entries,
            (SELECT count(*) FROM ledger_accounts) AS accounts,
            (SELECT coalesce(sum(amount), 0) FROM ledger_entries) AS sum`,
  );
  const totals = rows[0]!;
  const sumOfEntries = Number(totals.sum);
  const found = findings
    .filter((row) => row !== undefined)
    .map((row): Discrepancy => ({
      transferId: row.transfer_id === null ? null : Number(row.transfer_id),
      account: row.account,
      problem: describe(row.transfer_id, row.account, row.problem),
    }))
    .sort((a, b) => (a.transferId ?? Infinity) - (b.transferId ?? Infinity));
  let first = found[0] ?? null;
  if (!first && sumOfEntries !== 0) {
    first = { transferId: null, account: null, problem: `the entries sum to ${sumOfEntries}, not 0` };
  }
  return {
    ok: first === null,
    transfers: Number(totals.transfers),
    entries: Number(totals.entries),
    accounts: Number(totals.accounts),
    sumOfEntries,
    firstDiscrepancy: first,
    durationMs: Math.round(performance.now() - started),
  };
}

function describe(transferId: string | null, account: string | null, problem: string) {
  const subject = account
    ? `account ${account}${transferId ? ` (at transfer ${transferId})` : ''}`
    : `transfer ${transferId}`;
  return `${subject} ${problem}`;
}
