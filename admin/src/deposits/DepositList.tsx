import { DEPOSIT_STATUSES, PAYMENT_SOURCES } from '@ai-village/control-plane/contract';
import {
  CreateButton,
  Datagrid,
  DateField,
  FilterButton,
  List,
  SelectInput,
  TextField,
  TextInput,
  TopToolbar,
} from 'react-admin';
import { AiDollarsField } from '../money';
import { useIsAdmin } from '../roles';

const choices = (values: readonly string[]) => values.map((value) => ({ id: value, name: value }));
const filters = [
  <SelectInput key="status" source="status" choices={choices(DEPOSIT_STATUSES)} alwaysOn />,
  <SelectInput key="source" source="source" choices={choices(PAYMENT_SOURCES)} />,
  <TextInput key="agentId" source="agentId" />,
  <TextInput key="transactionId" source="transactionId" />,
];

function DepositListActions() {
  const isAdmin = useIsAdmin();
  return (
    <TopToolbar>
      <FilterButton />
      {isAdmin && <CreateButton label="Credit a deposit" data-testid="deposit-create" />}
    </TopToolbar>
  );
}

export function DepositList() {
  return (
    <List filters={filters} actions={<DepositListActions />} sort={{ field: 'id', order: 'DESC' }}>
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="id" />
        <DateField source="createdAt" showTime />
        <TextField source="source" sortable={false} />
        <TextField source="transactionId" sortable={false} />
        <TextField source="amount" sortable={false} />
        <TextField source="currency" sortable={false} />
        <AiDollarsField source="mills" label="aiDollars" />
        <TextField source="agentId" emptyText="-" sortable={false} />
        <TextField source="status" sortable={false} />
      </Datagrid>
    </List>
  );
}
