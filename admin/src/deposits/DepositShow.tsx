import { AssignDepositRequestSchema, type Deposit } from '@ai-village/control-plane/contract';
import {
  DateField,
  NumberField,
  ReferenceField,
  Show,
  SimpleShowLayout,
  TextField,
  TopToolbar,
  useRecordContext,
} from 'react-admin';
import { ActionDialog } from '../components/ActionDialog';
import { AiDollarsField } from '../money';
import { useIsAdmin } from '../roles';
import { village } from '../session';

/** Money parked in suspense (no agent, or an unknown one) goes to an agent an admin names. */
function DepositActions() {
  const deposit = useRecordContext<Deposit>();
  const isAdmin = useIsAdmin();
  if (!deposit || !isAdmin || deposit.status !== 'suspense') return <TopToolbar />;
  return (
    <TopToolbar>
      <ActionDialog
        label="Assign to an agent"
        testId="deposit-assign"
        fields={[
          { name: 'agentId', label: 'Agent' },
          { name: 'reason', label: 'Reason (kept in the audit log)', multiline: true },
        ]}
        schema={AssignDepositRequestSchema}
        toRequest={(values) => ({ agentId: values.agentId, reason: values.reason })}
        run={(body) => village.assignDeposit(deposit.id, body)}
        done={`deposit ${deposit.id} assigned`}
      />
    </TopToolbar>
  );
}

export function DepositShow() {
  return (
    <Show actions={<DepositActions />}>
      <SimpleShowLayout>
        <TextField source="id" />
        <TextField source="source" />
        <TextField source="transactionId" />
        <TextField source="amount" />
        <TextField source="currency" />
        <AiDollarsField source="mills" label="aiDollars" />
        <TextField source="status" />
        <TextField source="refusedReason" emptyText="-" />
        <ReferenceField source="agentId" reference="agents" link="show" emptyText="-" />
        <TextField source="requestedAgentId" emptyText="-" />
        <ReferenceField source="transferId" reference="transfers" link="show" emptyText="-" />
        <ReferenceField source="assignTransferId" reference="transfers" link="show" emptyText="-" />
        <AiDollarsField source="refundedMills" label="Refunded aiDollars" />
        <AiDollarsField source="shortfallMills" label="Shortfall" />
        <NumberField source="webhookEventId" emptyText="-" />
        <TextField source="enteredBy" emptyText="-" />
        <TextField source="memo" emptyText="-" />
        <DateField source="createdAt" showTime />
      </SimpleShowLayout>
    </Show>
  );
}
