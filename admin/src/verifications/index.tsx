import VerifiedUser from '@mui/icons-material/VerifiedUser';
import { BooleanField, Datagrid, DateField, List, NumberField, TextField, TopToolbar } from 'react-admin';
import { useIsAdmin } from '../roles';
import { VerifyLedgerButton } from '../transfers/VerifyLedgerButton';

function Actions() {
  return <TopToolbar>{useIsAdmin() && <VerifyLedgerButton />}</TopToolbar>;
}

/** Every run of the ledger check asked for through the API, newest first. */
function VerificationList() {
  return (
    <List sort={{ field: 'id', order: 'DESC' }} actions={<Actions />}>
      <Datagrid bulkActionButtons={false}>
        <TextField source="id" />
        <DateField source="verifiedAt" showTime />
        <TextField source="verifiedBy" sortable={false} />
        <BooleanField source="ok" sortable={false} />
        <NumberField source="transfers" sortable={false} />
        <NumberField source="entries" sortable={false} />
        <NumberField source="durationMs" sortable={false} />
        <TextField source="firstDiscrepancy.problem" label="Problem" emptyText="-" sortable={false} />
      </Datagrid>
    </List>
  );
}

export default { list: VerificationList, icon: VerifiedUser, options: { label: 'Ledger checks' } };
