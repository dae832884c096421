import { CreateTransferRequestSchema, TRANSFER_REASONS } from '@ai-village/control-plane/contract';
import { Create, SelectInput, SimpleForm, TextInput } from 'react-admin';
import { millsFrom } from '../money';
import { validateWith } from '../validation';

/** The form's aiDollars become mills; empty optional fields are left out, as the API wants. */
function toRequest(values: Record<string, unknown>) {
  return {
    debitAccount: values.debitAccount,
    creditAccount: values.creditAccount,
    amount: millsFrom(values.amount, 'amount'),
    reason: values.reason,
    ...(values.memo ? { memo: values.memo } : {}),
  };
}

/** Admins move money between any two accounts (a grant from the treasury, a fine to burn, a correction). */
export function TransferCreate() {
  return (
    <Create transform={toRequest} redirect="show">
      <SimpleForm validate={validateWith(CreateTransferRequestSchema, 'debitAccount', toRequest)}>
        <TextInput source="debitAccount" helperText="from: agent:<id> or treasury, burn, suspense, ..." />
        <TextInput source="creditAccount" helperText="to: agent:<id> or a system account" />
        <TextInput source="amount" label="Amount (aiDollars)" />
        <SelectInput
          source="reason"
          choices={TRANSFER_REASONS.filter((reason) => reason !== 'reversal').map((reason) => ({
            id: reason,
            name: reason,
          }))}
        />
        <TextInput source="memo" multiline fullWidth />
      </SimpleForm>
    </Create>
  );
}
