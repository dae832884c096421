import Dns from '@mui/icons-material/Dns';
import { Datagrid, DateField, FunctionField, List, Show, SimpleShowLayout, TextField } from 'react-admin';

const json = (value: unknown) => (
  <pre style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{JSON.stringify(value, null, 2)}</pre>
);

/** The machines that run agents, as the fleet reports them (read only here; admins register nodes by API). */
function NodeList() {
  return (
    <List sort={{ field: 'name', order: 'ASC' }} pagination={false}>
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="name" sortable={false} />
        <FunctionField
          label="Labels"
          render={(node: { labels: Record<string, string> }) =>
            Object.entries(node.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')
          }
        />
        <DateField source="lastSeenAt" showTime emptyText="never" sortable={false} />
        <DateField source="createdAt" showTime sortable={false} />
      </Datagrid>
    </List>
  );
}

/** Everything the API says about the node (engine, capacity, allocations as the fleet adds them). */
function NodeShow() {
  return (
    <Show>
      <SimpleShowLayout>
        <TextField source="name" />
        <DateField source="lastSeenAt" showTime emptyText="never" />
        <FunctionField label="Details" render={(node: Record<string, unknown>) => json(node)} />
      </SimpleShowLayout>
    </Show>
  );
}

export default { list: NodeList, show: NodeShow, icon: Dns };
