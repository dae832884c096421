import { ResumeComputeRequestSchema, type PausedAgent } from '@ai-village/control-plane/contract';
import PauseCircle from '@mui/icons-material/PauseCircle';
import { Datagrid, DateField, FunctionField, List, ReferenceField, TextField } from 'react-admin';
import { ActionDialog } from '../components/ActionDialog';
import { village } from '../session';

/**
 * The agents whose LLM calls the loop breaker (or a moderator) paused, longest first: the
 * moderators' queue for them, each with its resume button.
 */
function PausedAgentList() {
  return (
    <List sort={{ field: 'pausedAt', order: 'ASC' }} empty={false}>
      <Datagrid bulkActionButtons={false} rowClick={false}>
        <ReferenceField source="id" reference="agents" label="Agent" link="show" />
        <DateField source="pausedAt" showTime />
        <TextField source="reason" sortable={false} />
        <FunctionField
          label="Act"
          render={(agent: PausedAgent) => (
            <ActionDialog
              label="Resume compute"
              title={`Resume ${agent.displayName}'s compute`}
              testId="paused-agent-resume"
              schema={ResumeComputeRequestSchema}
              toRequest={(values) => ({ reason: values.reason })}
              run={(body) => village.resumeCompute(agent.id, body.reason)}
              done="compute resumed"
            />
          )}
        />
      </Datagrid>
    </List>
  );
}

export default { list: PausedAgentList, icon: PauseCircle, options: { label: 'Paused agents' } };
