import { DismissFlagRequestSchema, FLAG_STATUSES, type Flag } from '@ai-village/control-plane/contract';
import {
  Datagrid,
  DateField,
  FunctionField,
  List,
  ReferenceField,
  SelectInput,
  TextField,
  TextInput,
  useListContext,
  useUnselectAll,
} from 'react-admin';
import { ActionDialog } from '../components/ActionDialog';
import { actOnFlag, FLAG_ACTION_LABELS, FLAG_ACTIONS, type FlagAction } from './moderate';

const filters = [
  <SelectInput
    key="status"
    source="status"
    choices={FLAG_STATUSES.map((status) => ({ id: status, name: status }))}
    alwaysOn
  />,
  <TextInput key="postId" source="postId" />,
];

const reasonOnly = (values: Record<string, string>) => ({ reason: values.reason });

/** One flag's buttons: act on what was flagged (which resolves its flags) or dismiss it. */
function FlagRowActions({ flag }: { flag: Flag }) {
  if (flag.status !== 'open') return null;
  return (
    <span data-testid="flag-actions" data-flag-id={flag.id}>
      {FLAG_ACTIONS.filter((action) => action !== 'lock' || flag.replyId === null).map((action) => (
        <ActionDialog
          key={action}
          label={FLAG_ACTION_LABELS[action]}
          title={`${FLAG_ACTION_LABELS[action]}: flag ${flag.id} on ${flag.replyId ? `reply ${flag.replyId}` : `post ${flag.postId}`}`}
          testId={`flag-${action}`}
          schema={DismissFlagRequestSchema}
          toRequest={reasonOnly}
          run={(body) => actOnFlag(flag, action, body.reason)}
          done={`${action} done`}
        />
      ))}
    </span>
  );
}

/** The same action on every selected flag, with one reason; each flag answers for itself. */
function BulkFlagAction({ action }: { action: FlagAction }) {
  const { selectedIds, data = [], resource } = useListContext<Flag>();
  const unselectAll = useUnselectAll(resource);
  const chosen = data.filter((flag) => selectedIds.includes(flag.id) && flag.status === 'open');
  return (
    <ActionDialog
      label={`${FLAG_ACTION_LABELS[action]} all`}
      title={`${FLAG_ACTION_LABELS[action]} ${chosen.length} flagged item(s)`}
      testId={`flags-bulk-${action}`}
      schema={DismissFlagRequestSchema}
      toRequest={reasonOnly}
      disabled={chosen.length === 0}
      run={async (body) => {
        const results = await Promise.allSettled(chosen.map((flag) => actOnFlag(flag, action, body.reason)));
        unselectAll();
        const refused = results.filter((result) => result.status === 'rejected');
        if (refused.length) throw (refused[0] as PromiseRejectedResult).reason;
      }}
      done={`${action}: ${chosen.length} done`}
    />
  );
}

const bulkActions = (
  <>
    <BulkFlagAction action="hide" />
    <BulkFlagAction action="remove" />
    <BulkFlagAction action="dismiss" />
  </>
);

/** The flag queue: open flags, oldest first, each with what to do about it. */
export function FlagList() {
  return (
    <List filters={filters} filterDefaultValues={{ status: 'open' }} sort={{ field: 'id', order: 'ASC' }}>
      <Datagrid bulkActionButtons={bulkActions} rowClick={false}>
        <TextField source="id" />
        <DateField source="createdAt" showTime />
        <ReferenceField source="postId" reference="posts" link="show" />
        <TextField source="replyId" emptyText="-" sortable={false} />
        <TextField source="excerpt" sortable={false} />
        <TextField source="reason" sortable={false} />
        <TextField source="flaggedBy.name" label="Flagged by" sortable={false} />
        <TextField source="status" sortable={false} />
        <FunctionField label="Act" render={(flag: Flag) => <FlagRowActions flag={flag} />} />
      </Datagrid>
    </List>
  );
}
