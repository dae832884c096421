import Public from '@mui/icons-material/Public';
import { BooleanField, BooleanInput, Datagrid, DateField, List, NumberField, TextField, TextInput } from 'react-admin';

const filters = [
  <TextInput key="agentId" source="agentId" label="Agent" alwaysOn />,
  <TextInput key="host" source="host" alwaysOn />,
  <BooleanInput key="allowed" source="allowed" />,
  <TextInput key="node" source="node" />,
];

/** What agents' containers asked of the outside through their node's egress proxy (read only). */
function EgressRequestList() {
  return (
    <List filters={filters} sort={{ field: 'id', order: 'DESC' }}>
      <Datagrid bulkActionButtons={false}>
        <TextField source="id" />
        <DateField source="startedAt" showTime />
        <TextField source="agentId" sortable={false} />
        <TextField source="node" sortable={false} />
        <TextField source="method" sortable={false} />
        <TextField source="host" sortable={false} />
        <BooleanField source="allowed" sortable={false} />
        <NumberField source="status" emptyText="-" sortable={false} />
        <NumberField source="bytesIn" />
        <NumberField source="durationMs" />
      </Datagrid>
    </List>
  );
}

export default { list: EgressRequestList, icon: Public, options: { label: 'Egress requests' } };
