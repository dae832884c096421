import {
  LlmUpstreamConfigSchema,
  PutLlmUpstreamRequestSchema,
  type LlmUpstream,
} from '@ai-village/control-plane/contract';
import Hub from '@mui/icons-material/Hub';
import {
  BooleanField,
  BooleanInput,
  Create,
  Datagrid,
  DateField,
  Edit,
  FunctionField,
  List,
  NumberField,
  NumberInput,
  PasswordInput,
  SimpleForm,
  TextArrayInput,
  TextField,
  TextInput,
  useRecordContext,
} from 'react-admin';
import { validateWith } from '../validation';

/** up, down, or not yet checked (the replica's own view: see docs/API.md). */
const health = (upstream: LlmUpstream) => (upstream.healthy === null ? 'unchecked' : upstream.healthy ? 'up' : 'down');

/**
 * The OpenAI-compatible servers the gateway forwards to, with this replica's view of their health
 * and their calls in flight across replicas. Admins only (the API's keys never come back).
 */
function UpstreamList() {
  return (
    <List sort={{ field: 'name', order: 'ASC' }} pagination={false}>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="name" />
        <TextField source="baseUrl" label="Base URL" />
        <FunctionField label="Models" render={(upstream: LlmUpstream) => upstream.models.join(', ')} />
        <NumberField source="maxConcurrency" />
        <NumberField source="timeoutMs" />
        <BooleanField source="enabled" />
        <BooleanField source="apiKeySet" label="API key" />
        <FunctionField label="Health" source="healthy" render={health} />
        <TextField source="lastError" emptyText="-" />
        <DateField source="lastCheckedAt" showTime emptyText="-" />
        <NumberField source="inFlight" label="In flight" />
      </Datagrid>
    </List>
  );
}

/**
 * What `PUT /api/llm/upstreams/:name` takes: the whole upstream. The key is write-only: left empty,
 * it is not sent and the stored one stays; "clear the stored key" sends "".
 */
function toRequest(values: Record<string, unknown>) {
  const apiKey = values.clearApiKey ? '' : values.apiKey || undefined;
  return {
    baseUrl: values.baseUrl,
    models: values.models,
    maxConcurrency: values.maxConcurrency,
    timeoutMs: values.timeoutMs,
    enabled: values.enabled,
    ...(apiKey === undefined ? {} : { apiKey }),
  };
}
/** A new upstream's request also names it (the data provider puts the name in the path). */
const toCreateRequest = (values: Record<string, unknown>) => ({ name: values.name, ...toRequest(values) });

/** The fields both forms share; the name is typed once, at creation. */
function UpstreamFields({ creating }: { creating?: boolean }) {
  const upstream = useRecordContext<UpstreamSettings>();
  return (
    <>
      <TextInput
        source="name"
        disabled={!creating}
        helperText={creating ? 'How calls, usage records and events name it; fixed once created' : false}
      />
      <TextInput
        source="baseUrl"
        label="Base URL"
        helperText="The server's OpenAI base URL, e.g. http://gpu1:8000/v1"
        fullWidth
      />
      <TextArrayInput source="models" helperText="The gateway model names it serves (Enter after each)" fullWidth />
      <NumberInput source="maxConcurrency" helperText="Its calls in flight at most, across replicas" />
      <NumberInput source="timeoutMs" helperText="How long a call (or each chunk of a stream) may wait for it" />
      <BooleanInput source="enabled" helperText="A disabled upstream gets no calls" />
      <PasswordInput
        source="apiKey"
        label="API key"
        autoComplete="new-password"
        helperText={upstream?.apiKeySet ? 'A key is stored: empty keeps it' : 'Empty: no key'}
      />
      {upstream?.apiKeySet && <BooleanInput source="clearApiKey" label="Clear the stored key" />}
    </>
  );
}

function UpstreamCreate() {
  return (
    <Create transform={toCreateRequest} redirect="list">
      <SimpleForm
        defaultValues={{ enabled: true, maxConcurrency: 4, timeoutMs: 120_000, models: [] }}
        validate={validateWith(LlmUpstreamConfigSchema, 'name', toCreateRequest)}
      >
        <UpstreamFields creating />
      </SimpleForm>
    </Create>
  );
}

/**
 * Only the settings: a health check between two reads changes the record, and react-admin would
 * reset the form (and what the admin typed) for it.
 */
type UpstreamSettings = Pick<
  LlmUpstream,
  'id' | 'name' | 'baseUrl' | 'models' | 'maxConcurrency' | 'timeoutMs' | 'enabled' | 'apiKeySet'
>;
const settingsOf = (upstream: UpstreamSettings): UpstreamSettings => ({
  id: upstream.id,
  name: upstream.name,
  baseUrl: upstream.baseUrl,
  models: upstream.models,
  maxConcurrency: upstream.maxConcurrency,
  timeoutMs: upstream.timeoutMs,
  enabled: upstream.enabled,
  apiKeySet: upstream.apiKeySet,
});

/** Saving replaces the upstream whole; its toolbar's Delete asks first (pessimistic: the server decides). */
function UpstreamEdit() {
  return (
    <Edit<UpstreamSettings>
      mutationMode="pessimistic"
      transform={toRequest}
      queryOptions={{ select: settingsOf }}
      redirect="list"
    >
      <SimpleForm validate={validateWith(PutLlmUpstreamRequestSchema, 'baseUrl', toRequest)}>
        <UpstreamFields />
      </SimpleForm>
    </Edit>
  );
}

export default {
  list: UpstreamList,
  create: UpstreamCreate,
  edit: UpstreamEdit,
  icon: Hub,
  recordRepresentation: 'name',
  options: { label: 'LLM upstreams' },
};
