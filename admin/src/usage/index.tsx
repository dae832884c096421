import { USAGE_STATUSES } from '@ai-village/control-plane/contract';
import Memory from '@mui/icons-material/Memory';
import { Datagrid, DateField, List, NumberField, SelectInput, TextField, TextInput } from 'react-admin';
import { AiDollarsField } from '../money';

const filters = [
  <TextInput key="agentId" source="agentId" label="Agent" alwaysOn />,
  <TextInput key="model" source="model" alwaysOn />,
  <SelectInput key="status" source="status" choices={USAGE_STATUSES.map((status) => ({ id: status, name: status }))} />,
  <TextInput key="upstream" source="upstream" />,
];

/** Every call through the LLM gateway: agent, model, tokens, price (read only). */
function UsageList() {
  return (
    <List filters={filters} sort={{ field: 'id', order: 'DESC' }}>
      <Datagrid bulkActionButtons={false}>
        <TextField source="id" />
        <DateField source="createdAt" showTime />
        <TextField source="agentId" sortable={false} />
        <TextField source="model" sortable={false} />
        <TextField source="upstream" emptyText="-" sortable={false} />
        <NumberField source="promptTokens" sortable={false} />
        <NumberField source="completionTokens" sortable={false} />
        <AiDollarsField source="price" />
        <NumberField source="latencyMs" />
        <TextField source="status" sortable={false} />
      </Datagrid>
    </List>
  );
}

export default { list: UsageList, icon: Memory, options: { label: 'LLM usage' } };
