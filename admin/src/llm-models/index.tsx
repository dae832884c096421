import { formatAiDollars, ModelPriceRequestSchema, type ModelPrice } from '@ai-village/control-plane/contract';
import PriceChange from '@mui/icons-material/PriceChange';
import { Datagrid, Edit, FunctionField, List, SimpleForm, TextField, TextInput } from 'react-admin';
import { AiDollarsField, millsOrZeroFrom } from '../money';
import { validateWith } from '../validation';

const PER_MTOK = 'aiD per million tokens';

/**
 * What each model costs, prompt and completion apart, per million tokens: every priced model and
 * every served one. A model without a price of its own costs the configured default until priced.
 */
function ModelPriceList() {
  return (
    <List sort={{ field: 'name', order: 'ASC' }} pagination={false}>
      <Datagrid rowClick="edit" bulkActionButtons={false}>
        <TextField source="name" label="Model" />
        <AiDollarsField source="promptPricePerMtok" label={`Prompt, ${PER_MTOK}`} />
        <AiDollarsField source="completionPricePerMtok" label={`Completion, ${PER_MTOK}`} />
        <FunctionField
          label="Price"
          source="isDefault"
          render={(model: ModelPrice) => (model.isDefault ? 'the default' : 'its own')}
        />
      </Datagrid>
    </List>
  );
}

/** The form's aiDollars as `PUT /api/llm/models/:name` takes them: mills per million tokens. */
const toRequest = (values: Record<string, unknown>) => ({
  promptPricePerMtok: millsOrZeroFrom(values.prompt, 'prompt'),
  completionPricePerMtok: millsOrZeroFrom(values.completion, 'completion'),
});

/** The record's mills as the form's aiDollars text. */
const toForm = (model: ModelPrice) => ({
  ...model,
  prompt: formatAiDollars(model.promptPricePerMtok),
  completion: formatAiDollars(model.completionPricePerMtok),
});

/** Gives the model a price of its own (audited; every replica charges it within 5 s). */
function ModelPriceEdit() {
  return (
    <Edit mutationMode="pessimistic" transform={toRequest} queryOptions={{ select: toForm }} redirect="list">
      <SimpleForm validate={validateWith(ModelPriceRequestSchema, 'prompt', toRequest)}>
        <TextInput source="name" label="Model" disabled />
        <TextInput source="prompt" label={`Prompt, ${PER_MTOK}`} helperText="1 aiD = 1,000 mills; 0 is free" />
        <TextInput source="completion" label={`Completion, ${PER_MTOK}`} helperText="1 aiD = 1,000 mills; 0 is free" />
      </SimpleForm>
    </Edit>
  );
}

export default {
  list: ModelPriceList,
  edit: ModelPriceEdit,
  icon: PriceChange,
  recordRepresentation: 'name',
  options: { label: 'Model prices' },
};
