import { ReverseTransferRequestSchema, type Transfer } from '@ai-village/control-plane/contract';
import {
  DateField,
  FunctionField,
  NumberField,
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

function TransferActions() {
  const transfer = useRecordContext<Transfer>();
  const isAdmin = useIsAdmin();
  if (!transfer || !isAdmin || transfer.kind !== 'posted' || transfer.reversesId !== null) return <TopToolbar />;
  return (
    <TopToolbar>
      <ActionDialog
        label="Reverse"
        title={`Reverse transfer ${transfer.id}`}
        testId="transfer-reverse"
        schema={ReverseTransferRequestSchema}
        toRequest={(values) => ({ reason: values.reason })}
        run={(body) => village.reverseTransfer(transfer.id, body.reason)}
        done={`transfer ${transfer.id} reversed`}
      />
    </TopToolbar>
  );
}

export function TransferShow() {
  return (
    <Show actions={<TransferActions />}>
      <SimpleShowLayout>
        <TextField source="id" />
        <TextField source="kind" />
        <TextField source="reason" />
        <TextField source="debitAccount" />
        <TextField source="creditAccount" />
        <AiDollarsField source="amount" />
        <TextField source="memo" emptyText="-" />
        <FunctionField
          label="Source"
          render={(transfer: Transfer) => `${transfer.source.type}:${transfer.source.id ?? ''}`}
        />
        <NumberField source="postId" emptyText="-" />
        <NumberField source="pendingId" emptyText="-" />
        <NumberField source="reversesId" emptyText="-" />
        <TextField source="idempotencyKey" />
        <FunctionField label="Metadata" render={(transfer: Transfer) => JSON.stringify(transfer.metadata)} />
        <DateField source="createdAt" showTime />
        <TextField source="hash" />
      </SimpleShowLayout>
    </Show>
  );
}
