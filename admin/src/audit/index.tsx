import type { AuditEntry } from '@ai-village/control-plane/contract';
import History from '@mui/icons-material/History';
import { Datagrid, DateField, FunctionField, List, Show, SimpleShowLayout, TextField, TextInput } from 'react-admin';

const filters = [
  <TextInput key="action" source="action" alwaysOn />,
  <TextInput key="subjectType" source="subjectType" />,
  <TextInput key="subjectId" source="subjectId" />,
  <TextInput key="actorId" source="actorId" />,
];
const json = (value: unknown) => (
  <pre style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{JSON.stringify(value, null, 2)}</pre>
);

/** Who did what to what, with the state before and after (append-only; read only). */
function AuditList() {
  return (
    <List filters={filters} sort={{ field: 'id', order: 'DESC' }}>
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="id" />
        <DateField source="at" showTime />
        <FunctionField label="Actor" render={(entry: AuditEntry) => `${entry.actor.type}:${entry.actor.id}`} />
        <TextField source="action" sortable={false} />
        <FunctionField label="Subject" render={(entry: AuditEntry) => `${entry.subject.type} ${entry.subject.id}`} />
        <TextField source="reason" emptyText="-" sortable={false} />
      </Datagrid>
    </List>
  );
}

function AuditShow() {
  return (
    <Show>
      <SimpleShowLayout>
        <TextField source="id" />
        <DateField source="at" showTime />
        <FunctionField label="Actor" render={(entry: AuditEntry) => `${entry.actor.type}:${entry.actor.id}`} />
        <TextField source="action" />
        <FunctionField label="Subject" render={(entry: AuditEntry) => `${entry.subject.type} ${entry.subject.id}`} />
        <TextField source="reason" emptyText="-" />
        <TextField source="requestId" emptyText="-" />
        <FunctionField label="Before" render={(entry: AuditEntry) => json(entry.before)} />
        <FunctionField label="After" render={(entry: AuditEntry) => json(entry.after)} />
      </SimpleShowLayout>
    </Show>
  );
}

export default { list: AuditList, show: AuditShow, icon: History, options: { label: 'Audit log' } };
