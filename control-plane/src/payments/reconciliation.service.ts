import { Injectable } from '@nestjs/common';
import { formatMoney, type Reconciliation, type ReconciliationRow } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import type { DepositRow } from './payment-records.js';
import { toDeposit } from './payment-records.js';

interface Row extends DepositRow {
  credit_id: string | null;
  credit_amount: string | null;
  credit_debit: string | null;
  credit_account: string | null;
  assign_amount: string | null;
  ledger_refund: string;
}

/**
 * Deposits against the ledger: each deposit's credit, assignment and refunds as the ledger has them
 * (found by their idempotency keys), and, over the whole history, the `deposits_clearing` balance
 * against what the deposits say it must be.
 */
@Injectable()
export class ReconciliationService {
  constructor(private readonly database: DatabaseService) {}

  async report(from: Date | null, to: Date | null): Promise<Reconciliation> {
    const { rows } = await this.database.query<Row>(
      `SELECT d.*, c.id AS credit_id, c.amount AS credit_amount,
              split_part(c.debit_account, '#', 1) AS credit_debit, split_part(c.credit_account, '#', 1) AS credit_account,
              a.amount AS assign_amount,
              (SELECT coalesce(sum(t.amount), 0) FROM deposit_refunds r
                 JOIN ledger_transfers t ON t.idempotency_key = 'paypal:refund:' || r.refund_id
                WHERE r.deposit_id = d.id) AS ledger_refund
         FROM deposits d
         LEFT JOIN ledger_transfers c ON c.idempotency_key = 'paypal:capture:' || d.transaction_id
         LEFT JOIN ledger_transfers a ON a.idempotency_key = 'payment:assign:' || d.id
        WHERE ($1::timestamptz IS NULL OR d.created_at >= $1) AND ($2::timestamptz IS NULL OR d.created_at < $2)
        ORDER BY d.id`,
      [from, to],
    );
    const lines = rows.map(reconcile);
    const byCurrency = new Map<string, { amount: number; refunded: number }>();
    for (const row of rows) {
      const sums = byCurrency.get(row.currency) ?? { amount: 0, refunded: 0 };
      sums.amount += Number(row.amount);
      sums.refunded += Number(row.refunded_amount);
      byCurrency.set(row.currency, sums);
    }
    const sum = (pick: (line: ReconciliationRow) => number) => lines.reduce((total, line) => total + pick(line), 0);
    const waiting = await this.database.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM deposit_refunds WHERE status = 'waiting'`,
    );
    const ledger = from || to ? null : await this.ledgerCheck(lines);
    return {
      generatedAt: new Date().toISOString(),
      from: from?.toISOString() ?? null,
      to: to?.toISOString() ?? null,
      rows: lines,
      totals: {
        deposits: lines.length,
        byCurrency: [...byCurrency].map(([currency, sums]) => ({
          currency,
          amount: formatMoney(sums.amount, currency),
          refunded: formatMoney(sums.refunded, currency),
        })),
        creditedMills: sum((line) => line.expectedMills),
        refundedMills: sum((line) => line.refundedMills),
        shortfallMills: sum((line) => line.shortfallMills),
        inSuspenseMills: sum((line) => (line.status === 'suspense' ? line.netMills : 0)),
        waitingRefunds: waiting.rows[0]!.count,
      },
      ledger,
      ok:
        lines.every((line) => line.matches) &&
        (ledger === null ||
          (ledger.depositsClearingBalance === ledger.expectedDepositsClearingBalance &&
            ledger.transfersWithoutDeposit.length === 0)),
    };
  }

  private async ledgerCheck(lines: ReconciliationRow[]): Promise<NonNullable<Reconciliation['ledger']>> {
    const [balances, orphans] = await Promise.all([
      this.database.query<{ name: string; balance: string }>(
        `SELECT name, sum(balance) AS balance FROM ledger_accounts
          WHERE name IN ('deposits_clearing', 'suspense') GROUP BY name`,
      ),
      this.database.query<{ id: string }>(
        `SELECT t.id FROM ledger_transfers t
          WHERE t.reason IN ('deposit_credit', 'deposit_refund')
            AND NOT EXISTS (SELECT 1 FROM deposits d
                             WHERE t.idempotency_key IN ('paypal:capture:' || d.transaction_id, 'payment:assign:' || d.id))
            AND NOT EXISTS (SELECT 1 FROM deposit_refunds r WHERE t.idempotency_key = 'paypal:refund:' || r.refund_id)
          ORDER BY t.id LIMIT 1000`,
      ),
    ]);
    const balance = (name: string) => Number(balances.rows.find((row) => row.name === name)?.balance ?? 0);
    return {
      depositsClearingBalance: balance('deposits_clearing'),
      expectedDepositsClearingBalance: -lines.reduce(
        (total, line) => total + line.ledgerCreditMills - line.ledgerRefundMills,
        0,
      ),
      suspenseBalance: balance('suspense'),
      transfersWithoutDeposit: orphans.rows.map((row) => Number(row.id)),
    };
  }
}

function reconcile(row: Row): ReconciliationRow {
  const deposit = toDeposit(row);
  const problems: string[] = [];
  const credit = Number(row.credit_amount ?? 0);
  const assigned = Number(row.assign_amount ?? 0);
  const ledgerRefund = Number(row.ledger_refund);
  if (deposit.status === 'refused') {
    if (row.credit_id) problems.push(`refused, yet the ledger credited ${credit} mills (transfer ${row.credit_id})`);
  } else {
    if (!row.credit_id) problems.push('the ledger has no credit for it');
    else {
      if (credit !== deposit.mills)
        problems.push(`the ledger credited ${credit} mills, the deposit says ${deposit.mills}`);
      if (row.credit_debit !== 'deposits_clearing')
        problems.push(`the credit came from ${row.credit_debit}, not deposits_clearing`);
      const expectedAccount =
        deposit.assignTransferId || deposit.status === 'suspense' ? 'suspense' : `agent:${deposit.agentId}`;
      if (row.credit_account !== expectedAccount)
        problems.push(`the ledger credited ${row.credit_account}, not ${expectedAccount}`);
    }
    if (deposit.assignTransferId && !row.assign_amount) problems.push('assigned, but the ledger has no assignment');
    if (ledgerRefund !== deposit.refundedMills) {
      problems.push(`refunds took ${ledgerRefund} mills in the ledger, the deposit says ${deposit.refundedMills}`);
    }
  }
  return {
    depositId: deposit.id,
    source: deposit.source,
    transactionId: deposit.transactionId,
    createdAt: deposit.createdAt,
    currency: deposit.currency,
    amount: deposit.amount,
    refunded: formatMoney(deposit.refundedMinor, deposit.currency),
    status: deposit.status,
    agentId: deposit.agentId,
    expectedMills: deposit.mills,
    ledgerCreditMills: credit,
    creditTransferId: deposit.transferId,
    creditAccount: row.credit_account,
    assignedMills: assigned,
    refundedMills: deposit.refundedMills,
    ledgerRefundMills: ledgerRefund,
    shortfallMills: deposit.shortfallMills,
    netMills: credit - ledgerRefund,
    matches: problems.length === 0,
    problems,
  };
}

const CSV_COLUMNS: (keyof ReconciliationRow)[] = [
  'depositId',
  'source',
  'transactionId',
  'createdAt',
  'currency',
  'amount',
  'refunded',
  'status',
  'agentId',
  'expectedMills',
  'ledgerCreditMills',
  'creditTransferId',
  'creditAccount',
  'assignedMills',
  'refundedMills',
  'ledgerRefundMills',
  'shortfallMills',
  'netMills',
  'matches',
  'problems',
];

/** The rows as CSV (RFC 4180), one deposit a line; cells that a spreadsheet would run as a formula are quoted with '. */
export function reconciliationCsv(report: Reconciliation): string {
  const cell = (value: unknown) => {
    let text = Array.isArray(value) ? value.join('; ') : value === null || value === undefined ? '' : String(value);
    if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [
    CSV_COLUMNS.join(','),
    ...report.rows.map((row) => CSV_COLUMNS.map((column) => cell(row[column])).join(',')),
  ];
  return `${lines.join('\r\n')}\r\n`;
}
