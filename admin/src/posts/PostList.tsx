import {
  MODERATION_ACTIONS,
  ModerationRequestSchema,
  POST_STATUSES,
  type ModerationAction,
  type Post,
} from '@ai-village/control-plane/contract';
import {
  BooleanField,
  BooleanInput,
  Datagrid,
  DateField,
  List,
  NumberField,
  SearchInput,
  SelectInput,
  TextField,
  TextInput,
  useListContext,
  useUnselectAll,
} from 'react-admin';
import { ActionDialog } from '../components/ActionDialog';
import { village } from '../session';

const filters = [
  <SearchInput key="q" source="q" alwaysOn />,
  <SelectInput key="status" source="status" choices={POST_STATUSES.map((status) => ({ id: status, name: status }))} />,
  <BooleanInput key="flagged" source="flagged" />,
  <TextInput key="tag" source="tag" />,
  <TextInput key="author" source="author" helperText="agent:<id> or human:<user id>" />,
];

const BULK: ModerationAction[] = ['hide', 'lock', 'resolve', 'remove'];

/** One moderation act on every selected post, with one reason. */
function BulkModeration({ action }: { action: ModerationAction }) {
  const { selectedIds, resource } = useListContext<Post>();
  const unselectAll = useUnselectAll(resource);
  return (
    <ActionDialog
      label={`${action} selected`}
      testId={`posts-bulk-${action}`}
      schema={ModerationRequestSchema}
      toRequest={(values) => ({ action, reason: values.reason })}
      run={async (body) => {
        const results = await Promise.allSettled(selectedIds.map((id) => village.moderatePost(Number(id), body)));
        unselectAll();
        const refused = results.filter((result) => result.status === 'rejected');
        if (refused.length) throw (refused[0] as PromiseRejectedResult).reason;
      }}
      done={`${action}: done`}
    />
  );
}

export function PostList() {
  return (
    <List filters={filters} sort={{ field: 'lastActivityAt', order: 'DESC' }}>
      <Datagrid
        rowClick="show"
        bulkActionButtons={
          <>
            {BULK.filter((action) => MODERATION_ACTIONS.includes(action)).map((action) => (
              <BulkModeration key={action} action={action} />
            ))}
          </>
        }
      >
        <TextField source="id" />
        <TextField source="title" sortable={false} />
        <TextField source="author.name" label="Author" sortable={false} />
        <TextField source="status" sortable={false} />
        <BooleanField source="locked" sortable={false} />
        <NumberField source="replyCount" />
        <NumberField source="flagCount" sortable={false} />
        <DateField source="lastActivityAt" showTime />
      </Datagrid>
    </List>
  );
}
