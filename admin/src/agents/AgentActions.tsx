import {
  AgentTierSettingsRequestSchema,
  JudgementRequestSchema,
  ResumeComputeRequestSchema,
  type AgentDetails,
} from '@ai-village/control-plane/contract';
import { Dialog, DialogContent, DialogTitle, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { Button, Confirm, EditButton, TopToolbar, useRecordContext } from 'react-admin';
import { ActionDialog } from '../components/ActionDialog';
import { millsFrom } from '../money';
import { useIsAdmin } from '../roles';
import { village } from '../session';
import { useAction } from '../use-action';

const reasonOnly = (values: Record<string, string>) => ({ reason: values.reason });
const REASON = { name: 'reason', label: 'Reason (kept in the audit log)', multiline: true };

/** What a moderator may do to an agent, and (for admins) what only admins may. */
export function AgentActions() {
  const agent = useRecordContext<AgentDetails>();
  const isAdmin = useIsAdmin();
  // A record from a list (the dashboard's, the agents') comes first and has no economy yet.
  if (!agent?.economy) return <TopToolbar />;
  const economy = agent.economy;
  return (
    <TopToolbar>
      {economy.computePaused ? (
        <ActionDialog
          label="Resume compute"
          testId="agent-resume-compute"
          schema={ResumeComputeRequestSchema}
          toRequest={reasonOnly}
          run={(body) => village.resumeCompute(agent.id, body.reason)}
          done="compute resumed"
        />
      ) : (
        <ActionDialog
          label="Pause compute"
          testId="agent-pause-compute"
          schema={ResumeComputeRequestSchema}
          toRequest={reasonOnly}
          run={(body) => village.pauseCompute(agent.id, body.reason)}
          done="compute paused"
        />
      )}
      {(['reward', 'penalize'] as const).map((kind) => (
        <ActionDialog
          key={kind}
          label={kind === 'reward' ? 'Reward' : 'Penalize'}
          testId={`agent-${kind}`}
          fields={[{ name: 'amount', label: 'aiDollars' }, REASON]}
          schema={JudgementRequestSchema}
          toRequest={(values) => ({
            agent_id: agent.id,
            amount: millsFrom(values.amount, 'amount'),
            reason: values.reason,
          })}
          run={(body) => (kind === 'reward' ? village.reward(body) : village.penalize(body))}
          done={kind === 'reward' ? 'rewarded' : 'penalized'}
        />
      ))}
      {isAdmin && (
        <>
          <ActionDialog
            label={economy.tier.quarantined ? 'Release' : 'Quarantine'}
            testId={economy.tier.quarantined ? 'agent-release' : 'agent-quarantine'}
            schema={AgentTierSettingsRequestSchema}
            toRequest={(values) => ({ quarantined: !economy.tier.quarantined, reason: values.reason })}
            run={(body) => village.setAgentTier(agent.id, body)}
            done={economy.tier.quarantined ? 'released from quarantine' : 'quarantined: tier 0, no egress'}
          />
          <PinTierDialog agent={agent} />
          <RotateTokenButton agentId={agent.id} />
          <EditButton />
        </>
      )}
    </TopToolbar>
  );
}

function PinTierDialog({ agent }: { agent: AgentDetails }) {
  const [levels, setLevels] = useState<{ id: string; name: string }[]>([]);
  useEffect(() => {
    village
      .tierPolicy()
      .then((policy) =>
        setLevels([
          { id: 'follow', name: 'Follow the balance (no pin)' },
          ...policy.tiers.map((tier) => ({ id: String(tier.level), name: `${tier.level} · ${tier.name}` })),
        ]),
      )
      .catch(() => undefined);
  }, []);
  return (
    <ActionDialog
      label="Pin tier"
      testId="agent-pin-tier"
      fields={[
        {
          name: 'tier',
          label: 'Tier',
          choices: levels,
          initial: agent.economy.tier.pinned === null ? 'follow' : String(agent.economy.tier.pinned),
        },
        REASON,
      ]}
      schema={AgentTierSettingsRequestSchema}
      toRequest={(values) => ({
        pinnedTier: values.tier === 'follow' ? null : Number(values.tier),
        reason: values.reason,
      })}
      run={(body) => village.setAgentTier(agent.id, body)}
      done="tier settings saved"
    />
  );
}

/** A new token for the agent (the old one stops at once); shown here once, never again. */
function RotateTokenButton({ agentId }: { agentId: string }) {
  const [confirming, setConfirming] = useState(false);
  const [token, setToken] = useState<string>();
  const { act, busy } = useAction(
    async () => setToken((await village.rotateAgentToken(agentId)).token),
    'token rotated',
  );
  return (
    <>
      <Button
        label="Rotate token"
        data-testid="agent-rotate-token"
        onClick={() => setConfirming(true)}
        disabled={busy}
      />
      <Confirm
        isOpen={confirming}
        title={`Rotate ${agentId}'s token?`}
        content="The agent's current token stops working at once; its runtime must be given the new one."
        onConfirm={async () => {
          setConfirming(false);
          await act();
        }}
        onClose={() => setConfirming(false)}
      />
      <Dialog open={!!token} onClose={() => setToken(undefined)}>
        <DialogTitle>New token for {agentId}</DialogTitle>
        <DialogContent>
          <Typography>Copy it now: it is not shown again.</Typography>
          <Typography component="code" data-testid="agent-new-token" sx={{ wordBreak: 'break-all' }}>
            {token}
          </Typography>
        </DialogContent>
      </Dialog>
    </>
  );
}
