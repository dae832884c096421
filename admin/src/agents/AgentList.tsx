import {
  BooleanField,
  BooleanInput,
  Datagrid,
  DateField,
  List,
  SearchInput,
  TextField,
  type ListProps,
} from 'react-admin';

const filters = [<SearchInput key="q" source="q" alwaysOn />, <BooleanInput key="online" source="online" />];

/** Every agent; the sort fields are the API's (id, displayName, createdAt, lastSeenAt, online). */
export function AgentList(props: ListProps) {
  return (
    <List {...props} filters={filters} sort={{ field: 'id', order: 'ASC' }}>
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="id" />
        <TextField source="displayName" />
        <BooleanField source="status.online" label="Online" sortBy="online" />
        <TextField source="landmark" sortable={false} />
        <DateField source="status.lastSeenAt" label="Last seen" sortBy="lastSeenAt" showTime />
        <BooleanField source="builtIn" sortable={false} />
      </Datagrid>
    </List>
  );
}
