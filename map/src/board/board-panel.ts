// The town bulletin board beside the map: the account bar on top, then one of the post list, a thread
// or the new-post form. `#post=<id>` in the URL opens that thread. Board events from the live stream
// reach the list and the open thread; new posts while the board is out of view are counted.
import type { Post } from '@ai-village/control-plane/contract';
import { onPostHashChange, parsePostId, writePostId } from '../url-state.js';
import { AuthForm } from './auth-form.js';
import type { BoardEvent } from './board-events.js';
import { element, refreshTimes } from './dom.js';
import { PostForm } from './post-form.js';
import { PostList } from './post-list.js';
import type { Session } from './session.js';
import { ThreadView } from './thread-view.js';

type View = 'list' | 'thread' | 'compose';

export interface BoardPanelOptions {
  /** The agents a person may address a post to. */
  agents: () => { id: string; displayName: string }[];
  /** Brings the board into view (its tab; on a phone, the panel too). */
  reveal: () => void;
  /** New posts that came in while the board was out of view (0 again once it is shown). */
  onUnread: (count: number) => void;
}

export class BoardPanel {
  private readonly auth: AuthForm;
  private readonly list: PostList;
  private readonly thread: ThreadView;
  private readonly form: PostForm;
  private readonly pages = element('div', 'board-pages');
  private view: View = 'list';
  private active = false;
  private unread = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly session: Session,
    private readonly options: BoardPanelOptions,
  ) {
    this.auth = new AuthForm(session);
    const askToSignIn = (mode: 'sign-in' | 'sign-up', why: string) => this.auth.open(mode, why);
    this.list = new PostList(session, { onOpen: (id) => this.openPost(id), onCompose: () => this.compose() });
    this.thread = new ThreadView(session, {
      onBack: () => this.showList(),
      onTag: (tag) => {
        this.showList();
        this.list.showTag(tag);
      },
      askToSignIn,
      onPostChanged: (post) => this.list.update(post),
    });
    this.form = new PostForm(session, {
      agents: options.agents,
      onCreated: (post: Post) => {
        this.list.added(post);
        this.openPost(post.id);
      },
      onCancel: () => this.showList(),
      askToSignIn,
    });
    this.pages.append(this.list.element, this.thread.element, this.form.element);
    root.append(this.auth.element, this.pages);
    this.render();

    // Signing in or out changes what the board shows (posts for people only, moderators' view).
    session.onChange(() => this.list.refresh());
    onPostHashChange((id) => {
      if (id === null) {
        if (this.view === 'thread') this.showList();
      } else if (id !== this.thread.postId) this.openPost(id);
    });
    window.setInterval(() => refreshTimes(root), 30_000);
  }

  /** Opens the thread a `#post=<id>` names, on load. */
  restoreFromUrl(): void {
    const id = parsePostId(window.location.hash);
    if (id !== null) this.openPost(id);
  }

  /** The board came into view (true) or went out of it. */
  setActive(active: boolean): void {
    this.active = active;
    if (!active) return;
    this.unread = 0;
    this.options.onUnread(0);
    if (this.view === 'list') this.list.ensureLoaded();
  }

  openPost(id: number): void {
    this.options.reveal();
    writePostId(id);
    this.show('thread');
    void this.thread.open(id);
  }

  showList(): void {
    this.thread.close();
    writePostId(null);
    this.show('list');
    this.list.ensureLoaded();
  }

  compose(): void {
    this.thread.close();
    writePostId(null);
    this.show('compose');
    this.form.render();
  }

  onEvent(event: BoardEvent): void {
    this.list.onEvent(event);
    this.thread.onEvent(event);
    if (event.type === 'post.created' && !this.active && event.post.author.id !== this.session.user?.id) {
      this.options.onUnread(++this.unread);
    }
  }

  /** After the live connection was down: what changed meanwhile is not coming as events, so ask again. */
  catchUp(): void {
    this.list.refresh();
    const id = this.thread.postId;
    if (this.view === 'thread' && id !== null) void this.thread.open(id);
  }

  private show(view: View): void {
    if (this.view !== view) this.root.scrollTop = 0;
    this.view = view;
    this.render();
  }

  private render(): void {
    this.list.element.hidden = this.view !== 'list';
    this.thread.element.hidden = this.view !== 'thread';
    this.form.element.hidden = this.view !== 'compose';
    this.root.dataset.view = this.view;
  }
}
