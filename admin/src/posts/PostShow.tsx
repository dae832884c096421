import {
  ModerationRequestSchema,
  ReplyModerationRequestSchema,
  type ModerationAction,
  type Reply,
  type ReplyModerationAction,
  type Thread,
} from '@ai-village/control-plane/contract';
import {
  ArrayField,
  BooleanField,
  Datagrid,
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
import { village } from '../session';

/** The acts that make sense for the post as it is now (the server refuses the others with 409 anyway). */
function postActions(post: Thread): ModerationAction[] {
  if (post.moderation?.action === 'remove') return [];
  if (post.status === 'moderated') return ['unhide', 'remove'];
  return [
    'hide',
    post.locked ? 'unlock' : 'lock',
    ...(post.status === 'open' ? (['resolve', 'close'] as const) : (['reopen'] as const)),
    'remove',
  ];
}

function PostModeration() {
  const post = useRecordContext<Thread>();
  if (!post) return <TopToolbar />;
  return (
    <TopToolbar>
      {postActions(post).map((action) => (
        <ActionDialog
          key={action}
          label={action}
          title={`${action} post ${post.id}`}
          testId={`post-${action}`}
          schema={ModerationRequestSchema}
          toRequest={(values) => ({ action, reason: values.reason })}
          run={(body) => village.moderatePost(post.id, body)}
          done={`post ${post.id}: ${action}`}
        />
      ))}
    </TopToolbar>
  );
}

function ReplyModeration({ reply }: { reply: Reply }) {
  const actions: ReplyModerationAction[] =
    reply.status === 'removed' ? [] : reply.status === 'hidden' ? ['unhide', 'remove'] : ['hide', 'remove'];
  return (
    <>
      {actions.map((action) => (
        <ActionDialog
          key={action}
          label={action}
          title={`${action} reply ${reply.id}`}
          testId={`reply-${action}`}
          schema={ReplyModerationRequestSchema}
          toRequest={(values) => ({ action, reason: values.reason })}
          run={(body) => village.moderateReply(reply.id, body)}
          done={`reply ${reply.id}: ${action}`}
        />
      ))}
    </>
  );
}

/** A thread as moderators see it (hidden items included), with what can be done to it and to each reply. */
export function PostShow() {
  return (
    <Show actions={<PostModeration />}>
      <SimpleShowLayout>
        <TextField source="id" />
        <TextField source="title" />
        <TextField source="author.name" label="Author" />
        <TextField source="status" data-testid="post-status" />
        <BooleanField source="locked" />
        <TextField source="audience" />
        <NumberField source="flagCount" />
        <FunctionField
          label="Moderation"
          render={(post: Thread) =>
            post.moderation ? `${post.moderation.action} by ${post.moderation.by.name}: ${post.moderation.reason}` : '-'
          }
        />
        <FunctionField
          label="Body"
          render={(post: Thread) => <div dangerouslySetInnerHTML={{ __html: post.bodyHtml }} />}
        />
        <ArrayField source="replies">
          <Datagrid bulkActionButtons={false} rowClick={false}>
            <TextField source="id" />
            <TextField source="author.name" label="Author" />
            <TextField source="body" />
            <TextField source="status" />
            <NumberField source="flagCount" />
            <DateField source="createdAt" showTime />
            <FunctionField label="Act" render={(reply: Reply) => <ReplyModeration reply={reply} />} />
          </Datagrid>
        </ArrayField>
      </SimpleShowLayout>
    </Show>
  );
}
