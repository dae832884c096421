import { TRANSFER_KINDS, TRANSFER_REASONS } from '@ai-village/control-plane/contract';
import {
  CreateButton,
  Datagrid,
  DateField,
  DateTimeInput,
  ExportButton,
  FilterButton,
  List,
  SelectInput,
  TextField,
  TextInput,
  TopToolbar,
} from 'react-admin';
import { AiDollarsField } from '../money';
import { useIsAdmin } from '../roles';
import { VerifyLedgerButton } from './VerifyLedgerButton';

const choices = (values: readonly string[]) => values.map((value) => ({ id: value, name: value }));

const filters = [
  <TextInput key="agentId" source="agentId" label="Agent" alwaysOn />,
  <SelectInput key="reason" source="reason" choices={choices(TRANSFER_REASONS)} alwaysOn />,
  <DateTimeInput
    key="since"
    source="since"
    label="Since"
    parse={(value: string) => (value ? new Date(value).toISOString() : value)}
  />,
  <DateTimeInput
    key="until"
    source="until"
    label="Until"
    parse={(value: string) => (value ? new Date(value).toISOString() : value)}
  />,
  <SelectInput key="kind" source="kind" choices={choices(TRANSFER_KINDS)} />,
  <TextInput key="account" source="account" helperText="agent:<id>, treasury, burn, suspense, ..." />,
];

function TransferListActions() {
  const isAdmin = useIsAdmin();
  return (
    <TopToolbar>
      <FilterButton />
      {isAdmin && <VerifyLedgerButton />}
      {isAdmin && <CreateButton label="Transfer" />}
      <ExportButton />
    </TopToolbar>
  );
}

/** Every transfer of the ledger, newest first (sort: id, createdAt, amount). */
export function TransferList() {
  return (
    <List filters={filters} actions={<TransferListActions />} sort={{ field: 'id', order: 'DESC' }} perPage={25}>
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="id" />
        <DateField source="createdAt" showTime />
        <TextField source="kind" sortable={false} />
        <TextField source="reason" sortable={false} />
        <TextField source="debitAccount" sortable={false} />
        <TextField source="creditAccount" sortable={false} />
        <AiDollarsField source="amount" />
        <TextField source="memo" sortable={false} />
      </Datagrid>
    </List>
  );
}
