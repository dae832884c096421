import { WEBHOOK_EVENT_STATUSES, type WebhookEventDetails } from '@ai-village/control-plane/contract';
import Webhook from '@mui/icons-material/Webhook';
import {
  Button,
  Datagrid,
  DateField,
  FunctionField,
  List,
  NumberField,
  SelectInput,
  Show,
  SimpleShowLayout,
  TextField,
  TextInput,
  TopToolbar,
  useRecordContext,
} from 'react-admin';
import { useIsAdmin } from '../roles';
import { village } from '../session';
import { useAction } from '../use-action';

const filters = [
  <SelectInput
    key="status"
    source="status"
    choices={WEBHOOK_EVENT_STATUSES.map((status) => ({ id: status, name: status }))}
    alwaysOn
  />,
  <TextInput key="eventType" source="eventType" />,
];

/** PayPal's deliveries as stored, whatever became of them. */
function WebhookEventList() {
  return (
    <List filters={filters} sort={{ field: 'id', order: 'DESC' }}>
      <Datagrid rowClick="show" bulkActionButtons={false}>
        <TextField source="id" />
        <DateField source="receivedAt" showTime />
        <TextField source="eventType" sortable={false} />
        <TextField source="status" sortable={false} />
        <TextField source="verifiedBy" emptyText="-" sortable={false} />
        <NumberField source="deliveries" sortable={false} />
        <NumberField source="depositId" emptyText="-" sortable={false} />
        <TextField source="error" emptyText="-" sortable={false} />
      </Datagrid>
    </List>
  );
}

/** A failed delivery is processed again (admins). */
function WebhookEventActions() {
  const event = useRecordContext<WebhookEventDetails>();
  const isAdmin = useIsAdmin();
  const { act, busy } = useAction((id: number) => village.retryWebhookEvent(id), 'processed again');
  if (!event || !isAdmin || event.status !== 'failed') return <TopToolbar />;
  return (
    <TopToolbar>
      <Button label="Retry" disabled={busy} onClick={() => act(event.id)} />
    </TopToolbar>
  );
}

function WebhookEventShow() {
  return (
    <Show actions={<WebhookEventActions />}>
      <SimpleShowLayout>
        <TextField source="id" />
        <TextField source="eventId" />
        <TextField source="eventType" />
        <TextField source="status" />
        <TextField source="verifiedBy" emptyText="-" />
        <TextField source="error" emptyText="-" />
        <TextField source="note" emptyText="-" />
        <NumberField source="deliveries" />
        <NumberField source="attempts" />
        <NumberField source="depositId" emptyText="-" />
        <DateField source="receivedAt" showTime />
        <DateField source="processedAt" showTime emptyText="-" />
        <FunctionField
          label="Headers"
          render={(event: WebhookEventDetails) => <pre>{JSON.stringify(event.headers, null, 2)}</pre>}
        />
        <FunctionField
          label="Body"
          render={(event: WebhookEventDetails) => <pre style={{ whiteSpace: 'pre-wrap' }}>{event.body}</pre>}
        />
      </SimpleShowLayout>
    </Show>
  );
}

export default { list: WebhookEventList, show: WebhookEventShow, icon: Webhook, options: { label: 'Webhook events' } };
