// One thread: the post, its replies oldest first, a reply form, and flag (and, for moderators, moderate)
// buttons with an inline reason form; under an agent's post or reply, a button to reward or penalize the
// agent (see judge-form.ts). Replies from others come in live. Bodies are the server's
// `bodyHtml` (Markdown rendered with any raw HTML escaped), the one place the board inserts HTML.
import {
  BOARD_LIMITS,
  MODERATION_ACTIONS,
  REPLY_MODERATION_ACTIONS,
  VillageApiError,
  type Author,
  type ModerationAction,
  type Post,
  type Reply,
  type Thread,
} from '@ai-village/control-plane/contract';
import type { AuthMode } from './auth-form.js';
import { keepHiddenPostText, keepHiddenReplyText, type BoardEvent } from './board-events.js';
import {
  audienceNote,
  authorChip,
  button,
  clearError,
  describeError,
  element,
  errorLine,
  showError,
  statusBadges,
  tagChip,
  testId,
  timeAgo,
} from './dom.js';
import { JudgeForm } from './judge-form.js';
import { ReasonForm } from './reason-form.js';
import type { Session } from './session.js';

export interface ThreadViewOptions {
  onBack: () => void;
  onTag: (tag: string) => void;
  /** A guest tried to reply or flag: open the sign-in (or sign-up) form, saying why. */
  askToSignIn: (mode: AuthMode, why: string) => void;
  /** The post changed here (a moderator's action), for the list to follow. */
  onPostChanged: (post: Post) => void;
}

interface ReplyRow {
  reply: Reply;
  item: HTMLLIElement;
}

export class ThreadView {
  readonly element = testId(element('article', 'thread-view'), 'thread');
  private readonly post = element('div', 'thread-post');
  private readonly notice = testId(element('p', 'board-empty'), 'thread-notice');
  private readonly repliesHeading = element('h4', 'thread-replies-heading');
  private readonly replyList = testId(element('ol', 'reply-list'), 'reply-list');
  private readonly composer = element('div', 'reply-composer');
  private readonly replyForm = testId(element('form', 'reply-form'), 'reply-form');
  private readonly replyInput = testId(element('textarea', 'board-input reply-input'), 'reply-input');
  private readonly replySubmit = testId(element('button', 'board-primary', 'Reply'), 'reply-submit');
  private readonly replyError = errorLine('reply-error');
  private readonly replies = new Map<number, ReplyRow>();
  private thread: Thread | null = null;
  private shownId: number | null = null;
  private generation = 0;

  constructor(
    private readonly session: Session,
    private readonly options: ThreadViewOptions,
  ) {
    const back = testId(button('← All posts', 'board-link thread-back', options.onBack), 'thread-back');
    this.replyInput.placeholder = 'Write a reply… Markdown works; @handle or @agent-id mentions someone.';
    this.replyInput.rows = 3;
    this.replyInput.maxLength = BOARD_LIMITS.replyBody;
    this.replyInput.required = true;
    this.replyInput.setAttribute('aria-label', 'Your reply');
    this.replyInput.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) this.replyForm.requestSubmit();
    });
    this.replySubmit.type = 'submit';
    const actions = element('div', 'board-actions');
    actions.append(this.replySubmit);
    this.replyForm.append(this.replyInput, this.replyError, actions);
    this.replyForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.sendReply();
    });
    this.element.append(back, this.notice, this.post, this.repliesHeading, this.replyList, this.composer);
    // Signing in or out changes what the thread may show (a post for people only, a hidden reply).
    session.onChange(() => {
      if (this.shownId !== null) void this.open(this.shownId);
    });
  }

  /** The id of the thread shown (or loading), else null. */
  get postId(): number | null {
    return this.shownId;
  }

  async open(postId: number): Promise<void> {
    const generation = ++this.generation;
    if (postId !== this.shownId) {
      this.shownId = postId;
      this.replyInput.value = '';
      clearError(this.replyError);
      this.empty();
      this.say('Loading…');
    }
    try {
      const thread = await this.session.call((client) => client.post(postId));
      if (generation !== this.generation) return;
      this.say('');
      this.thread = thread;
      this.renderPost();
      this.replyList.replaceChildren();
      this.replies.clear();
      for (const reply of thread.replies) this.addReply(reply);
      this.renderComposer();
    } catch (error) {
      if (generation !== this.generation) return;
      this.empty();
      this.say(
        error instanceof VillageApiError && error.status === 404
          ? 'This post is not on the board (a moderator may have removed it, or it is for signed-in people only).'
          : `The post could not be loaded. ${describeError(error)}`,
      );
    }
  }

  close(): void {
    this.generation++;
    this.shownId = null;
    this.thread = null;
  }

  onEvent(event: BoardEvent): void {
    const thread = this.thread;
    if (!thread) return;
    switch (event.type) {
      case 'reply.created':
        if (event.post.id === thread.id) this.addReply(event.reply);
        break;
      case 'reply.moderated':
        if (event.post.id === thread.id) this.updateReply(event.reply);
        break;
      case 'post.updated':
      case 'post.moderated':
        if (event.post.id === thread.id) this.updatePost(event.post);
        break;
      default:
        break;
    }
  }

  private empty(): void {
    this.thread = null;
    this.post.replaceChildren();
    this.replyList.replaceChildren();
    this.replies.clear();
    this.repliesHeading.hidden = true;
    this.composer.replaceChildren();
  }

  private say(text: string): void {
    this.notice.textContent = text;
    this.notice.hidden = !text;
  }

  private updatePost(post: Post): void {
    if (!this.thread) return;
    if (post.status === 'moderated' && !this.session.canReadHidden(post.author)) {
      // Gone for this reader: the event carries no text, and what is on the page goes too.
      this.empty();
      this.say('A moderator hid this post.');
      return;
    }
    this.thread = { ...keepHiddenPostText(this.thread, post), replies: this.thread.replies };
    this.renderPost();
    this.renderComposer();
  }

  private renderPost(): void {
    const post = this.thread;
    if (!post) return;
    this.element.dataset.postId = String(post.id);
    const title = testId(element('h3', 'thread-title', post.title), 'thread-title');
    const meta = element('div', 'thread-meta');
    const audience = audienceNote(post);
    meta.append(
      authorChip(post.author),
      timeAgo(post.createdAt),
      ...(audience ? [audience] : []),
      ...statusBadges(post),
    );
    const tags = element('div', 'thread-tags');
    tags.append(...post.tags.map((tag) => tagChip(tag, this.options.onTag)));
    const body = testId(element('div', 'board-body'), 'thread-body');
    // Rendered and escaped on the server; the one deliberate innerHTML (see the contract's `bodyHtml`).
    body.innerHTML = post.bodyHtml;
    const slot = element('div', 'reason-slot');
    const actions = this.itemActions(
      slot,
      'post',
      (reason) => this.session.call((c) => c.flagPost(post.id, reason)),
      {
        actions: MODERATION_ACTIONS,
        send: async (reason, action) => {
          const changed = await this.session.call((c) => c.moderatePost(post.id, { action, reason }));
          this.updatePost(changed);
          this.options.onPostChanged(changed);
        },
      },
      post.author,
    );
    const parts: HTMLElement[] = [title, meta];
    if (post.tags.length > 0) parts.push(tags);
    const moderation = moderationNote(post.moderation);
    if (moderation) parts.push(moderation);
    parts.push(body, actions, slot);
    this.post.replaceChildren(...parts);
  }

  private addReply(reply: Reply): void {
    if (this.replies.has(reply.id)) return;
    const item = testId(element('li', 'reply'), 'reply');
    item.dataset.replyId = String(reply.id);
    const row = { reply, item };
    this.replies.set(reply.id, row);
    this.renderReply(row);
    this.replyList.append(item);
    this.renderCount();
  }

  private updateReply(reply: Reply): void {
    const row = this.replies.get(reply.id);
    if (!row) return this.addReply(reply);
    row.reply = this.session.canReadHidden(row.reply.author) ? keepHiddenReplyText(row.reply, reply) : reply;
    this.renderReply(row);
  }

  private renderReply({ reply, item }: ReplyRow): void {
    const header = element('div', 'reply-header');
    header.append(authorChip(reply.author), timeAgo(reply.createdAt));
    const me = this.session.user;
    item.classList.toggle(
      'reply-mentions-me',
      !!me && reply.mentions.some((m) => m.type === 'human' && m.id === me.id),
    );
    item.classList.toggle('reply-moderated', reply.status !== 'visible');
    const parts: HTMLElement[] = [header];
    const moderation = moderationNote(reply.moderation);
    if (reply.status !== 'visible')
      parts.push(
        moderation ??
          element('p', 'moderation-note', `${reply.status === 'hidden' ? 'Hidden' : 'Removed'} by a moderator.`),
      );
    if (reply.bodyHtml) {
      const body = testId(element('div', 'board-body'), 'reply-body');
      body.innerHTML = reply.bodyHtml;
      parts.push(body);
    }
    const slot = element('div', 'reason-slot');
    parts.push(
      this.itemActions(
        slot,
        'reply',
        (reason) => this.session.call((c) => c.flagReply(reply.id, reason)),
        {
          actions: REPLY_MODERATION_ACTIONS,
          send: async (reason, action) => {
            const changed = await this.session.call((c) => c.moderateReply(reply.id, { action, reason }));
            this.updateReply(changed);
          },
        },
        reply.author,
      ),
      slot,
    );
    item.replaceChildren(...parts);
  }

  /**
   * Flag (and, for moderators, Moderate) buttons, and for an agent's post or reply a Reward / penalize
   * button; each opens its form in `slot`.
   */
  private itemActions<A extends string>(
    slot: HTMLElement,
    what: 'post' | 'reply',
    flag: (reason: string) => Promise<unknown>,
    moderate: { actions: readonly A[]; send: (reason: string, action: A) => Promise<void> },
    author: Author,
  ): HTMLElement {
    const actions = element('div', 'item-actions');
    const toggle = (kind: 'flag' | 'moderate' | 'judge', build: () => { element: HTMLElement }) => {
      // A second press closes the form, unless it is done: then it starts a fresh one.
      if (slot.dataset.open === kind && !slot.querySelector('[data-finished]')) {
        slot.replaceChildren();
        delete slot.dataset.open;
        return;
      }
      slot.dataset.open = kind;
      slot.replaceChildren(build().element);
    };
    const close = () => {
      slot.replaceChildren();
      delete slot.dataset.open;
    };
    const flagButton = testId(
      button('⚑ Flag', 'board-link item-action', () => {
        if (!this.session.user) return this.options.askToSignIn('sign-in', `Sign in to flag a ${what}.`);
        toggle(
          'flag',
          () =>
            new ReasonForm<A>(
              {
                kind: 'flag',
                placeholder: `What is wrong with this ${what}?`,
                submitLabel: 'Send flag',
                send: async (reason) => void (await flag(reason)),
                done: 'Flagged. Thank you: a moderator will look at it.',
              },
              close,
            ),
        );
      }),
      'flag-button',
    );
    flagButton.title = `Flag this ${what} for the moderators`;
    actions.append(flagButton);
    const postId = this.thread?.id;
    if (author.type === 'agent' && postId !== undefined) {
      const agent = { id: author.id, name: author.name };
      const judgeButton = testId(
        button('🪙 Reward / penalize', 'board-link item-action', () => {
          if (!this.session.user) {
            return this.options.askToSignIn('sign-in', `Sign in to reward or penalize ${agent.name}.`);
          }
          toggle('judge', () => new JudgeForm(this.session, { agent, postId, what }, close));
        }),
        'judge-button',
      );
      judgeButton.title = `Reward or penalize ${agent.name} for this ${what}, in aiDollars`;
      actions.append(judgeButton);
    }
    if (this.session.moderator) {
      const moderateButton = button('🛡 Moderate', 'board-link item-action', () =>
        toggle(
          'moderate',
          () =>
            new ReasonForm<A>(
              {
                kind: 'moderate',
                placeholder: 'Reason (kept in the audit log)',
                submitLabel: 'Apply',
                actions: moderate.actions,
                send: async (reason, action) => moderate.send(reason, action ?? moderate.actions[0]!),
                done: 'Done.',
              },
              close,
            ),
        ),
      );
      actions.append(testId(moderateButton, 'moderate-button'));
    }
    return actions;
  }

  private renderCount(): void {
    const count = this.replies.size;
    this.repliesHeading.textContent = count === 0 ? 'No replies yet' : `${count} ${count === 1 ? 'reply' : 'replies'}`;
    this.repliesHeading.hidden = false;
  }

  private renderComposer(): void {
    const post = this.thread;
    if (!post) return;
    this.renderCount();
    if (post.status === 'moderated' && !this.session.moderator) {
      this.composer.replaceChildren(element('p', 'composer-note', 'A moderator hid this post: no new replies.'));
    } else if (post.locked) {
      this.composer.replaceChildren(element('p', 'composer-note', '🔒 This thread is locked: no new replies.'));
    } else if (post.status === 'closed') {
      this.composer.replaceChildren(element('p', 'composer-note', 'This thread is closed: no new replies.'));
    } else if (!this.session.user) {
      const note = testId(element('p', 'composer-note'), 'reply-sign-in');
      note.append(
        button('Sign in', 'board-link', () => this.options.askToSignIn('sign-in', 'Sign in to reply.')),
        ' or ',
        button('sign up', 'board-link', () => this.options.askToSignIn('sign-up', 'Sign up to reply.')),
        ' to reply.',
      );
      this.composer.replaceChildren(note);
    } else {
      this.composer.replaceChildren(this.replyForm);
    }
  }

  private async sendReply(): Promise<void> {
    const post = this.thread;
    const body = this.replyInput.value.trim();
    if (!post || !body) return;
    clearError(this.replyError);
    this.replySubmit.disabled = true;
    try {
      const reply = await this.session.call((client) => client.reply(post.id, { body }));
      this.replyInput.value = '';
      this.addReply(reply);
      this.replies.get(reply.id)?.item.scrollIntoView({ block: 'nearest' });
    } catch (error) {
      showError(this.replyError, error);
    } finally {
      this.replySubmit.disabled = false;
    }
  }
}

const MODERATED: Record<ModerationAction, string> = {
  hide: 'Hidden',
  unhide: 'Shown again',
  lock: 'Locked',
  unlock: 'Unlocked',
  resolve: 'Marked resolved',
  reopen: 'Reopened',
  close: 'Closed',
  remove: 'Removed',
};

/** The latest moderator's act on a post or reply, and why. */
function moderationNote(moderation: Post['moderation']): HTMLElement | undefined {
  if (!moderation) return undefined;
  const note = element('p', 'moderation-note');
  note.append(
    element('strong', undefined, `${MODERATED[moderation.action]} by ${moderation.by.name}`),
    moderation.reason ? `: ${moderation.reason}` : '',
  );
  return note;
}
