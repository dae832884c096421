import { KillSwitchRequestSchema, type FleetAgent } from '@ai-village/control-plane/contract';
import { ActionDialog } from '../components/ActionDialog';
import { useIsAdmin } from '../roles';
import { village } from '../session';

type Action = Parameters<typeof village.killSwitch>[1];

/** What the kill switch may do to an agent's container in the state it is in (the server checks again). */
function actionsFor(agent: FleetAgent): Action[] {
  switch (agent.desired) {
    case 'frozen':
      return ['unfreeze', 'kill', 'revoke-token', 'quarantine'];
    case 'quarantined':
      return ['release', 'kill'];
    case 'stopped':
      return ['quarantine'];
    default:
      return ['freeze', 'kill', 'revoke-token', 'quarantine'];
  }
}

const reasonOnly = (values: Record<string, string>) => ({ reason: values.reason });

/** The admins' kill switch for one agent's container: freeze, unfreeze, kill, revoke its token, quarantine, release. */
export function KillSwitchButtons({ agent }: { agent: FleetAgent }) {
  if (!useIsAdmin()) return null;
  return (
    <>
      {actionsFor(agent).map((action) => (
        <ActionDialog
          key={action}
          label={action}
          title={`${action}: ${agent.agentId}`}
          testId={`fleet-${action}`}
          schema={KillSwitchRequestSchema}
          toRequest={reasonOnly}
          run={(body) => village.killSwitch(agent.agentId, action, body)}
          done={`${agent.agentId}: ${action}`}
        />
      ))}
    </>
  );
}

/** Every running agent's container paused at once, or resumed (admins). */
export function PauseAllButtons() {
  if (!useIsAdmin()) return null;
  return (
    <>
      <ActionDialog
        label="Pause all"
        title="Pause every agent's container"
        testId="fleet-pause-all"
        schema={KillSwitchRequestSchema}
        toRequest={reasonOnly}
        run={(body) => village.pauseAllAgents(body)}
        done="every agent paused"
      />
      <ActionDialog
        label="Resume all"
        title="Resume what Pause all paused"
        testId="fleet-resume-all"
        schema={KillSwitchRequestSchema}
        toRequest={reasonOnly}
        run={(body) => village.resumeAllAgents(body)}
        done="agents resumed"
      />
    </>
  );
}
