import type { Flag, ModerationAction } from '@ai-village/control-plane/contract';
import { village } from '../session';

/** What a moderator may do about a flag from the queue: act on the flagged post or reply, or dismiss the flag. */
export const FLAG_ACTIONS = ['hide', 'lock', 'remove', 'dismiss'] as const;
export type FlagAction = (typeof FLAG_ACTIONS)[number];

export const FLAG_ACTION_LABELS: Record<FlagAction, string> = {
  hide: 'Hide',
  lock: 'Lock',
  remove: 'Remove',
  dismiss: 'Dismiss',
};

/** Replies can be hidden or removed, not locked; a lock goes to the reply's post. */
export function actOnFlag(flag: Pick<Flag, 'id' | 'postId' | 'replyId'>, action: FlagAction, reason: string) {
  if (action === 'dismiss') return village.dismissFlag(flag.id, reason);
  if (flag.replyId !== null && action !== 'lock') return village.moderateReply(flag.replyId, { action, reason });
  return village.moderatePost(flag.postId, { action: action as ModerationAction, reason });
}
