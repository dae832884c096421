import type { Reconciliation } from '@ai-village/control-plane/contract';
import { formatAiDollars } from '@ai-village/control-plane/contract';
import {
  Alert,
  Card,
  CardContent,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useEffect, useState } from 'react';
import { Button, Title } from 'react-admin';
import { village } from '../session';
import { messageOf } from '../use-action';

/** Deposits against the ledger (`GET /api/payments/reconciliation`), for a time range or the whole history. */
export function ReconciliationPage() {
  const [range, setRange] = useState({ from: '', to: '' });
  const [report, setReport] = useState<Reconciliation>();
  const [error, setError] = useState<string>();
  const load = () => {
    const iso = (value: string) => (value ? new Date(value).toISOString() : undefined);
    village
      .reconciliation({ from: iso(range.from), to: iso(range.to) })
      .then((next) => {
        setReport(next);
        setError(undefined);
      })
      .catch((reason: unknown) => setError(messageOf(reason)));
  };
  // Once, on opening: the whole history.
  useEffect(load, []);
  return (
    <Card>
      <Title title="Reconciliation" />
      <CardContent>
        <TextField
          type="datetime-local"
          label="From"
          value={range.from}
          onChange={(e) => setRange({ ...range, from: e.target.value })}
          slotProps={{ inputLabel: { shrink: true } }}
        />{' '}
        <TextField
          type="datetime-local"
          label="To"
          value={range.to}
          onChange={(e) => setRange({ ...range, to: e.target.value })}
          slotProps={{ inputLabel: { shrink: true } }}
        />{' '}
        <Button label="Reconcile" onClick={load} />
        {error && <Alert severity="error">{error}</Alert>}
        {report && (
          <>
            <Alert severity={report.ok ? 'success' : 'error'} data-testid="reconciliation-status" sx={{ my: 2 }}>
              {report.ok
                ? 'Deposits and the ledger agree.'
                : 'Deposits and the ledger disagree: see the rows marked below.'}{' '}
              {report.totals.deposits} deposits, {formatAiDollars(report.totals.creditedMills)} aiDollars credited,{' '}
              {formatAiDollars(report.totals.refundedMills)} refunded, {formatAiDollars(report.totals.inSuspenseMills)}{' '}
              in suspense.
            </Alert>
            {report.ledger && (
              <Typography variant="body2">
                deposits_clearing: {formatAiDollars(report.ledger.depositsClearingBalance)} (expected{' '}
                {formatAiDollars(report.ledger.expectedDepositsClearingBalance)}); suspense:{' '}
                {formatAiDollars(report.ledger.suspenseBalance)}
              </Typography>
            )}
            <Table size="small">
              <TableHead>
                <TableRow>
                  {[
                    'Deposit',
                    'Transaction',
                    'Amount',
                    'Refunded',
                    'Agent',
                    'Expected',
                    'Ledger',
                    'Net',
                    'Problems',
                  ].map((h) => (
                    <TableCell key={h}>{h}</TableCell>
                  ))}
                </TableRow>
              </TableHead>
              <TableBody>
                {report.rows.map((row) => (
                  <TableRow key={row.depositId} sx={row.matches ? undefined : { backgroundColor: '#fdecea' }}>
                    <TableCell>{row.depositId}</TableCell>
                    <TableCell>{row.transactionId}</TableCell>
                    <TableCell>
                      {row.amount} {row.currency}
                    </TableCell>
                    <TableCell>{row.refunded}</TableCell>
                    <TableCell>{row.agentId ?? row.creditAccount ?? '-'}</TableCell>
                    <TableCell>{formatAiDollars(row.expectedMills)}</TableCell>
                    <TableCell>{formatAiDollars(row.ledgerCreditMills)}</TableCell>
                    <TableCell>{formatAiDollars(row.netMills)}</TableCell>
                    <TableCell>{row.problems.join('; ')}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </>
        )}
      </CardContent>
    </Card>
  );
}
