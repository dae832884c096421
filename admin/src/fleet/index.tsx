import { FLEET_DESIRED_STATES, FLEET_OBSERVED_STATES, type FleetAgent } from '@ai-village/control-plane/contract';
import Dock from '@mui/icons-material/ViewInAr';
import {
  Datagrid,
  DateField,
  FunctionField,
  List,
  NumberField,
  SelectInput,
  Show,
  SimpleShowLayout,
  TextField,
  TextInput,
  TopToolbar,
  useRecordContext,
} from 'react-admin';
import { KillSwitchButtons, PauseAllButtons } from './KillSwitch';

const choices = (values: readonly string[]) => values.map((value) => ({ id: value, name: value }));
const filters = [
  <SelectInput key="desired" source="desired" choices={choices(FLEET_DESIRED_STATES)} alwaysOn />,
  <SelectInput key="observed" source="observed" choices={choices(FLEET_OBSERVED_STATES)} alwaysOn />,
  <TextInput key="node" source="node" />,
];

/** Each agent's container: what it should be doing, what it was last seen doing, and where. */
function FleetList() {
  return (
    <List
      filters={filters}
      sort={{ field: 'agentId', order: 'ASC' }}
      actions={
        <TopToolbar>
          <PauseAllButtons />
        </TopToolbar>
      }
    >
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="agentId" />
        <TextField source="node" emptyText="-" />
        <TextField source="desired" />
        <TextField source="observed" />
        <TextField source="health" emptyText="-" sortable={false} />
        <NumberField source="restarts" />
        <TextField source="lastError" emptyText="-" sortable={false} />
      </Datagrid>
    </List>
  );
}

function FleetActions() {
  const agent = useRecordContext<FleetAgent>();
  return <TopToolbar>{agent && <KillSwitchButtons agent={agent} />}</TopToolbar>;
}

function FleetShow() {
  return (
    <Show actions={<FleetActions />}>
      <SimpleShowLayout>
        <TextField source="agentId" />
        <TextField source="node" emptyText="-" />
        <FunctionField
          label="Desired"
          render={(agent: FleetAgent) => `${agent.desired} (${agent.desiredBy}: ${agent.desiredReason ?? '-'})`}
        />
        <TextField source="observed" />
        <TextField source="health" emptyText="-" />
        <TextField source="image" />
        <TextField source="containerId" emptyText="-" />
        <NumberField source="exitCode" emptyText="-" />
        <NumberField source="restarts" />
        <TextField source="lastError" emptyText="-" />
        <DateField source="startedAt" showTime emptyText="-" />
        <DateField source="observedAt" showTime emptyText="-" />
      </SimpleShowLayout>
    </Show>
  );
}

export default { list: FleetList, show: FleetShow, icon: Dock, options: { label: 'Containers' } };
