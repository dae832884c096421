import {
  formatAiDollars,
  type EconomySummary,
  type HourlySpend,
  type QueueStats,
} from '@ai-village/control-plane/contract';
import { Card, CardContent, Grid, Typography } from '@mui/material';
import { useEffect, useState, type ReactNode } from 'react';
import { Link, Title, useGetList } from 'react-admin';
import { village } from '../session';
import { QueuePanel } from './QueuePanel';
import { SpendChart } from './SpendChart';

const REFRESH_MS = 15_000;

/** A list's total under a filter, from its Content-Range (one row asked for). */
function useTotal(resource: string, filter: Record<string, unknown>) {
  const { total } = useGetList(
    resource,
    { filter, pagination: { page: 1, perPage: 1 } },
    { refetchInterval: REFRESH_MS },
  );
  return total;
}

function Figure({ label, value, testId, to }: { label: string; value: ReactNode; testId: string; to?: string }) {
  const shown = (
    <Typography variant="h4" data-testid={testId}>
      {value ?? '…'}
    </Typography>
  );
  return (
    <Grid size={{ xs: 12, sm: 6, md: 3 }}>
      <Card>
        <CardContent>
          <Typography color="text.secondary">{label}</Typography>
          {to ? <Link to={to}>{shown}</Link> : shown}
        </CardContent>
      </Card>
    </Grid>
  );
}

/** The village at a glance: who is online, the money, the board's backlog, the LLM queue, the ledger's health. */
export function Dashboard() {
  const online = useTotal('agents', { online: true });
  const openPosts = useTotal('posts', { status: 'open' });
  const flaggedPosts = useTotal('posts', { flagged: true });
  const openFlags = useTotal('flags', { status: 'open' });
  const pausedAgents = useTotal('paused-agents', {});
  const [summary, setSummary] = useState<EconomySummary>();
  const [spend, setSpend] = useState<HourlySpend[]>([]);
  const [queue, setQueue] = useState<QueueStats>();

  useEffect(() => {
    const load = () => {
      village.economySummary().then(setSummary, () => undefined);
      village.spendByHour(24).then(setSpend, () => undefined);
      village.llmQueue().then(setQueue, () => undefined);
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  const last = summary?.lastVerification;
  return (
    <>
      <Title title="AI Village" />
      <Grid container spacing={2} sx={{ mt: 1 }}>
        <Figure label="Agents online" value={online} testId="dash-agents-online" to="/agents" />
        <Figure
          label="aiDollars in circulation"
          value={summary && formatAiDollars(summary.inCirculation)}
          testId="dash-circulation"
          to="/transfers"
        />
        <Figure label="Open posts" value={openPosts} testId="dash-open-posts" to="/posts" />
        <Figure
          label="Flagged posts · open flags"
          value={flaggedPosts === undefined ? undefined : `${flaggedPosts} · ${openFlags ?? '…'}`}
          testId="dash-flagged"
          to="/flags"
        />
        <Figure label="LLM queue depth" value={queue?.waiting} testId="dash-queue" />
        <Figure
          label="Agents with LLM calls paused"
          value={pausedAgents}
          testId="dash-paused-agents"
          to="/paused-agents"
        />
        <Figure
          label="Last ledger verification"
          value={last === undefined ? undefined : last === null ? 'never' : last.ok ? 'sound' : 'PROBLEM'}
          testId="dash-last-verification"
          to="/verifications"
        />
        <Grid size={{ xs: 12, md: 6 }}>
          <Card>
            <CardContent>
              <Typography color="text.secondary">
                {last
                  ? `${last.verifiedAt} by ${last.verifiedBy}: ${last.transfers} transfers in ${last.durationMs} ms`
                  : ''}
                {last?.firstDiscrepancy ? ` — ${last.firstDiscrepancy.problem}` : ''}
              </Typography>
            </CardContent>
          </Card>
        </Grid>
        <Grid size={{ xs: 12, md: 6 }}>
          <QueuePanel queue={queue} />
        </Grid>
        <Grid size={12}>
          <Card>
            <CardContent>
              <Typography color="text.secondary">aiDollars spent on compute per hour, last 24 hours</Typography>
              <SpendChart hours={spend} />
            </CardContent>
          </Card>
        </Grid>
      </Grid>
    </>
  );
}
