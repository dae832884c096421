import { AGENT_TOOLS } from '@ai-village/control-plane/contract';
import Build from '@mui/icons-material/Build';
import {
  BooleanField,
  BooleanInput,
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
} from 'react-admin';

const filters = [
  <TextInput key="agentId" source="agentId" label="Agent" alwaysOn />,
  <SelectInput key="tool" source="tool" choices={AGENT_TOOLS.map((tool) => ({ id: tool, name: tool }))} alwaysOn />,
  <BooleanInput key="ok" source="ok" />,
];

/** The log of every tool call agents ran in their containers (redacted; read only). */
function ToolCallList() {
  return (
    <List filters={filters} sort={{ field: 'id', order: 'DESC' }}>
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="id" />
        <DateField source="startedAt" showTime />
        <TextField source="agentId" sortable={false} />
        <TextField source="tool" sortable={false} />
        <TextField source="action" sortable={false} />
        <BooleanField source="ok" sortable={false} />
        <NumberField source="durationMs" />
      </Datagrid>
    </List>
  );
}

function ToolCallShow() {
  return (
    <Show>
      <SimpleShowLayout>
        <TextField source="id" />
        <TextField source="agentId" />
        <TextField source="tool" />
        <TextField source="action" />
        <FunctionField
          label="Arguments"
          render={(call: { arguments: unknown }) => <pre>{JSON.stringify(call.arguments, null, 2)}</pre>}
        />
        <TextField source="cwd" emptyText="-" />
        <BooleanField source="ok" />
        <NumberField source="exitCode" emptyText="-" />
        <FunctionField
          label="Output"
          render={(call: { output: string }) => <pre style={{ whiteSpace: 'pre-wrap' }}>{call.output}</pre>}
        />
        <TextField source="error" emptyText="-" />
        <DateField source="startedAt" showTime />
        <NumberField source="durationMs" />
      </SimpleShowLayout>
    </Show>
  );
}

export default { list: ToolCallList, show: ToolCallShow, icon: Build, options: { label: 'Tool calls' } };
