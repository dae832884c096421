import { UpdateAgentRequestSchema } from '@ai-village/control-plane/contract';
import { Edit, SimpleForm, TextInput } from 'react-admin';
import { validateWith } from '../validation';

/** Only what `PUT /api/agents/:id` takes; the rest of the record stays as the server has it. */
const toRequest = (values: Record<string, unknown>) => ({ displayName: values.displayName, persona: values.persona });

export function AgentEdit() {
  return (
    <Edit mutationMode="pessimistic" transform={toRequest}>
      <SimpleForm validate={validateWith(UpdateAgentRequestSchema, 'displayName', toRequest)}>
        <TextInput source="id" disabled />
        <TextInput source="displayName" />
        <TextInput source="persona" multiline minRows={4} fullWidth />
      </SimpleForm>
    </Edit>
  );
}
