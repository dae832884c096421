import { Button, useNotify, useRefresh } from 'react-admin';
import { useState } from 'react';
import { village } from '../session';
import { messageOf } from '../use-action';

/** Runs the ledger check (admins): hash chains, balances, holds; the outcome is kept for the dashboard. */
export function VerifyLedgerButton() {
  const notify = useNotify();
  const refresh = useRefresh();
  const [busy, setBusy] = useState(false);
  return (
    <Button
      label="Verify ledger"
      data-testid="verify-ledger"
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          const report = await village.verifyLedger();
          notify(
            report.ok
              ? `The ledger is sound: ${report.transfers} transfers, ${report.entries} entries, checked in ${report.durationMs} ms`
              : `The ledger has a problem: ${report.firstDiscrepancy?.problem}`,
            { type: report.ok ? 'success' : 'error', autoHideDuration: 10_000 },
          );
          refresh();
        } catch (error) {
          notify(messageOf(error), { type: 'error' });
        } finally {
          setBusy(false);
        }
      }}
    />
  );
}
