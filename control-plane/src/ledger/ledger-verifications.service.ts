import { Injectable } from '@nestjs/common';
import type { LedgerVerification, LedgerVerificationRecord } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { listPage } from '../database/list-page.js';
import type { ListQuery } from '../http/list-query.js';
import { verifyLedger } from './ledger-verify.js';

export const VERIFICATION_SORT_FIELDS = ['id', 'verifiedAt'] as const;
export type VerificationSortField = (typeof VERIFICATION_SORT_FIELDS)[number];

interface VerificationRow {
  id: string;
  ok: boolean;
  transfers: string;
  entries: string;
  accounts: string;
  sum_of_entries: string;
  first_discrepancy: LedgerVerification['firstDiscrepancy'];
  duration_ms: number;
  verified_by: string;
  verified_at: Date;
}

/** Runs of the ledger check asked for through the API, kept (append-only) so the console shows the last one. */
@Injectable()
export class LedgerVerifications {
  constructor(private readonly database: DatabaseService) {}

  /** Re-walks the ledger (`verifyLedger`) and keeps the outcome under the name of who asked. */
  async run(verifiedBy: string): Promise<LedgerVerificationRecord> {
    const report = await verifyLedger(this.database.pool);
    const { rows } = await this.database.query<VerificationRow>(
      `INSERT INTO ledger_verifications (ok, transfers, entries, accounts, sum_of_entries, first_discrepancy,
                                         duration_ms, verified_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [
        report.ok,
        report.transfers,
        report.entries,
        report.accounts,
        report.sumOfEntries,
        report.firstDiscrepancy === null ? null : JSON.stringify(report.firstDiscrepancy),
        Math.round(report.durationMs),
        verifiedBy,
      ],
    );
    return toRecord(rows[0]!);
  }

  async latest(): Promise<LedgerVerificationRecord | null> {
    const { rows } = await this.database.query<VerificationRow>(
      'SELECT * FROM ledger_verifications ORDER BY id DESC LIMIT 1',
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** A page of past runs. Filters: id, ok, verifiedBy. */
  list(query: ListQuery<VerificationSortField>): Promise<{ items: LedgerVerificationRecord[]; total: number }> {
    return listPage(
      this.database,
      {
        table: 'ledger_verifications',
        sort: { id: 'id', verifiedAt: 'verified_at' },
        filter: { id: 'id', ok: 'ok', verifiedBy: 'verified_by' },
      },
      query,
      toRecord,
    );
  }
}

function toRecord(row: VerificationRow): LedgerVerificationRecord {
  return {
    id: Number(row.id),
    ok: row.ok,
    transfers: Number(row.transfers),
    entries: Number(row.entries),
    accounts: Number(row.accounts),
    sumOfEntries: Number(row.sum_of_entries),
    firstDiscrepancy: row.first_discrepancy,
    durationMs: row.duration_ms,
    verifiedBy: row.verified_by,
    verifiedAt: row.verified_at.toISOString(),
  };
}
