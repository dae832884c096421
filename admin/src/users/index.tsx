import { BanRequestSchema, ROLES, UpdateUserRequestSchema, type UserDetails } from '@ai-village/control-plane/contract';
import People from '@mui/icons-material/People';
import {
  BooleanInput,
  Button,
  Datagrid,
  DateField,
  Edit,
  EditButton,
  FunctionField,
  List,
  SearchInput,
  SelectInput,
  Show,
  SimpleForm,
  SimpleShowLayout,
  TextField,
  TextInput,
  TopToolbar,
  useRecordContext,
} from 'react-admin';
import { ActionDialog } from '../components/ActionDialog';
import { useIsAdmin } from '../roles';
import { village } from '../session';
import { useAction } from '../use-action';
import { validateWith } from '../validation';

const roleChoices = ROLES.map((role) => ({ id: role, name: role }));
const filters = [
  <SearchInput key="q" source="q" alwaysOn />,
  <SelectInput key="role" source="role" choices={roleChoices} alwaysOn />,
  <BooleanInput key="banned" source="banned" />,
];
const banText = (user: UserDetails) =>
  user.ban ? `banned by ${user.ban.by}${user.ban.until ? ` until ${user.ban.until}` : ''}: ${user.ban.reason}` : '';

function UserList() {
  return (
    <List filters={filters} sort={{ field: 'createdAt', order: 'DESC' }}>
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="handle" />
        <TextField source="displayName" />
        <TextField source="email" sortable={false} />
        <TextField source="role" />
        <FunctionField label="Ban" render={banText} />
        <DateField source="createdAt" showTime />
      </Datagrid>
    </List>
  );
}

/** Moderators ban and unban (not other moderators: the server says so); admins also change roles. */
function UserActions() {
  const user = useRecordContext<UserDetails>();
  const isAdmin = useIsAdmin();
  const unban = useAction((id: string) => village.unban(id), 'ban lifted');
  if (!user) return <TopToolbar />;
  return (
    <TopToolbar>
      {user.ban ? (
        <Button label="Unban" data-testid="user-unban" disabled={unban.busy} onClick={() => unban.act(user.id)} />
      ) : (
        <ActionDialog
          label="Ban"
          testId="user-ban"
          fields={[
            { name: 'reason', label: 'Reason', multiline: true },
            { name: 'until', label: 'Until (ISO 8601; empty: until lifted)' },
          ]}
          schema={BanRequestSchema}
          toRequest={(values) => ({ reason: values.reason, ...(values.until ? { until: values.until } : {}) })}
          run={(body) => village.ban(user.id, body)}
          done={`${user.handle} banned`}
        />
      )}
      {isAdmin && <EditButton />}
    </TopToolbar>
  );
}

function UserShow() {
  return (
    <Show actions={<UserActions />}>
      <SimpleShowLayout>
        <TextField source="id" />
        <TextField source="handle" />
        <TextField source="displayName" />
        <TextField source="email" />
        <TextField source="role" />
        <FunctionField label="Ban" render={(user: UserDetails) => banText(user) || '-'} />
        <DateField source="createdAt" showTime />
      </SimpleShowLayout>
    </Show>
  );
}

/** What `PUT /api/users/:id` takes (admins): role and display name. */
const toRequest = (values: Record<string, unknown>) => ({ role: values.role, displayName: values.displayName });

function UserEdit() {
  return (
    <Edit mutationMode="pessimistic" transform={toRequest}>
      <SimpleForm validate={validateWith(UpdateUserRequestSchema, 'displayName', toRequest)}>
        <TextInput source="handle" disabled />
        <TextInput source="displayName" />
        <SelectInput source="role" choices={roleChoices} />
      </SimpleForm>
    </Edit>
  );
}

export default { list: UserList, show: UserShow, edit: UserEdit, icon: People, recordRepresentation: 'handle' };
