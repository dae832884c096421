import { REFUND_STATUSES } from '@ai-village/control-plane/contract';
import Undo from '@mui/icons-material/Undo';
import { Datagrid, DateField, List, NumberField, SelectInput, TextField } from 'react-admin';
import { AiDollarsField } from '../money';

const filters = [
  <SelectInput
    key="status"
    source="status"
    choices={REFUND_STATUSES.map((status) => ({ id: status, name: status }))}
    alwaysOn
  />,
];

/** PayPal refunds and reversals, and what they took back from the ledger. */
function RefundList() {
  return (
    <List filters={filters} sort={{ field: 'id', order: 'DESC' }}>
      <Datagrid bulkActionButtons={false}>
        <TextField source="id" />
        <DateField source="createdAt" showTime />
        <TextField source="kind" sortable={false} />
        <TextField source="transactionId" sortable={false} />
        <NumberField source="depositId" emptyText="-" sortable={false} />
        <TextField source="amount" sortable={false} />
        <TextField source="currency" sortable={false} />
        <AiDollarsField source="taken" sortable={false} />
        <AiDollarsField source="shortfall" sortable={false} />
        <TextField source="status" sortable={false} />
      </Datagrid>
    </List>
  );
}

export default { list: RefundList, icon: Undo };
