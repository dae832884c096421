import type { QueueStats } from '@ai-village/control-plane/contract';
import { Card, CardContent, Typography } from '@mui/material';

const waitingByTier = (byTier: QueueStats['byTier']) =>
  Object.entries(byTier)
    .sort(([a], [b]) => Number(b) - Number(a))
    .map(([tier, calls]) => `tier ${tier}: ${calls}`)
    .join(' · ') || 'none';

/**
 * The LLM admission queue (`GET /api/llm/queue`): calls waiting for an upstream slot by tier (higher
 * tiers go first), and how long the last calls granted a slot from the queue waited.
 */
export function QueuePanel({ queue }: { queue?: QueueStats }) {
  const { samples, p50, p99, max } = queue?.waitMs ?? {};
  return (
    <Card>
      <CardContent data-testid="dash-queue-panel">
        <Typography color="text.secondary">LLM calls waiting for an upstream, by tier</Typography>
        <Typography data-testid="dash-queue-by-tier">{queue ? waitingByTier(queue.byTier) : '…'}</Typography>
        <Typography color="text.secondary" sx={{ mt: 1 }}>
          Recent waits in the queue
        </Typography>
        <Typography data-testid="dash-queue-waits">
          {!queue
            ? '…'
            : samples
              ? `p50 ${p50} ms · p99 ${p99} ms · max ${max} ms (last ${samples} calls)`
              : 'none yet'}
        </Typography>
      </CardContent>
    </Card>
  );
}
