import { ManualDepositRequestSchema } from '@ai-village/control-plane/contract';
import { Create, SimpleForm, TextInput } from 'react-admin';
import { validateWith } from '../validation';

/** What `POST /api/payments/deposits` takes, as PayPal shows the payment; empty memo left out. */
function toRequest(values: Record<string, unknown>) {
  return {
    transactionId: values.transactionId,
    amount: values.amount,
    currency: values.currency,
    agentId: values.agentId,
    ...(values.memo ? { memo: values.memo } : {}),
  };
}

/** An admin credits money that reached the village's PayPal account by hand (once per transaction). */
export function DepositCreate() {
  return (
    <Create transform={toRequest} redirect="show">
      <SimpleForm
        defaultValues={{ currency: 'USD' }}
        validate={validateWith(ManualDepositRequestSchema, 'transactionId', toRequest)}
      >
        <TextInput source="transactionId" helperText="PayPal's transaction id, as shown on the payment" />
        <TextInput source="amount" helperText='As PayPal shows it: "12.50"' />
        <TextInput source="currency" />
        <TextInput source="agentId" label="Agent" />
        <TextInput source="memo" multiline fullWidth />
      </SimpleForm>
    </Create>
  );
}
