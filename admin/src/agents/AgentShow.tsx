import type { AgentDetails, FleetAgent } from '@ai-village/control-plane/contract';
import {
  BooleanField,
  Datagrid,
  DateField,
  FunctionField,
  NumberField,
  ReferenceField,
  ReferenceManyField,
  Show,
  Tab,
  TabbedShowLayout,
  TextField,
} from 'react-admin';
import { AiDollarsField } from '../money';
import { AgentActions } from './AgentActions';

const json = (value: unknown) => (
  <pre style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{JSON.stringify(value, null, 2)}</pre>
);

export function AgentShow() {
  return (
    <Show actions={<AgentActions />}>
      <TabbedShowLayout>
        <Tab label="Agent">
          <TextField source="id" />
          <TextField source="displayName" />
          <TextField source="persona" />
          <BooleanField source="status.online" label="Online" />
          <DateField source="status.lastSeenAt" label="Last seen" showTime />
          <FunctionField
            label="Position"
            render={(agent: AgentDetails) => `${agent.position.x}, ${agent.position.y}`}
          />
          <TextField source="landmark" emptyText="-" />
          <FunctionField
            label="Walking to"
            render={(agent: AgentDetails) =>
              agent.walking ? `${agent.walking.landmark ?? 'a tile'} (${agent.walking.remaining} tiles left)` : '-'
            }
          />
          <BooleanField source="builtIn" />
          <DateField source="createdAt" showTime />
        </Tab>
        <Tab label="Economy" path="economy">
          <AiDollarsField source="economy.balance" label="Balance" data-testid="agent-balance" />
          <AiDollarsField source="economy.held" label="Held" />
          <AiDollarsField source="economy.available" label="Available" />
          <FunctionField
            label="Tier"
            render={(agent: AgentDetails) =>
              agent.economy && (
                <span data-testid="agent-tier">
                  {agent.economy.tier.level} · {agent.economy.tier.name}
                  {agent.economy.tier.pinned !== null ? ` (pinned to ${agent.economy.tier.pinned})` : ''}
                  {agent.economy.tier.quarantined ? ' · quarantined' : ''}
                </span>
              )
            }
          />
          <NumberField source="economy.tier.earned" label="Tier the balance earns" />
          <FunctionField
            label="Compute"
            render={(agent: AgentDetails) =>
              agent.economy?.computePaused
                ? `paused since ${agent.economy.computePaused.at}: ${agent.economy.computePaused.reason}`
                : 'running'
            }
          />
          <FunctionField label="Entitlements" render={(agent: AgentDetails) => json(agent.economy?.entitlements)} />
        </Tab>
        <Tab label="Container" path="container">
          <ReferenceField source="id" reference="fleet" label="Container" link="show" emptyText="not run by the fleet">
            <FunctionField
              render={(container: FleetAgent) =>
                `${container.desired} → ${container.observed} on ${container.node ?? 'no node'}${container.lastError ? ` (${container.lastError})` : ''}`
              }
            />
          </ReferenceField>
        </Tab>
        <Tab label="Transfers" path="transfers">
          <ReferenceManyField reference="transfers" target="agentId" sort={{ field: 'id', order: 'DESC' }} perPage={25}>
            <Datagrid rowClick="show" bulkActionButtons={false}>
              <TextField source="id" />
              <DateField source="createdAt" showTime />
              <TextField source="reason" />
              <TextField source="debitAccount" />
              <TextField source="creditAccount" />
              <AiDollarsField source="amount" />
              <TextField source="memo" />
            </Datagrid>
          </ReferenceManyField>
        </Tab>
        <Tab label="LLM usage" path="usage">
          <ReferenceManyField reference="usage" target="agentId" sort={{ field: 'id', order: 'DESC' }} perPage={25}>
            <Datagrid bulkActionButtons={false}>
              <DateField source="createdAt" showTime />
              <TextField source="model" />
              <NumberField source="promptTokens" />
              <NumberField source="completionTokens" />
              <AiDollarsField source="price" />
              <TextField source="status" />
            </Datagrid>
          </ReferenceManyField>
        </Tab>
        <Tab label="Tool calls" path="tool-calls">
          <ReferenceManyField
            reference="tool-calls"
            target="agentId"
            sort={{ field: 'id', order: 'DESC' }}
            perPage={25}
          >
            <Datagrid rowClick="show" bulkActionButtons={false}>
              <DateField source="startedAt" showTime />
              <TextField source="tool" />
              <TextField source="action" />
              <BooleanField source="ok" />
              <NumberField source="durationMs" />
            </Datagrid>
          </ReferenceManyField>
        </Tab>
      </TabbedShowLayout>
    </Show>
  );
}
