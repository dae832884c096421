// The board's list of posts: a search box and filters (status, tag), the posts page by page, and live
// changes: a new post that fits the filters comes in at the top, replies bump their post and its count,
// a post a moderator hid goes away.
import { POST_STATUSES, type ListParams, type Post, type PostStatus } from '@ai-village/control-plane/contract';
import { keepHiddenPostText, type BoardEvent } from './board-events.js';
import {
  audienceNote,
  authorChip,
  button,
  clearError,
  element,
  errorLine,
  showError,
  statusBadges,
  tagChip,
  testId,
  timeAgo,
} from './dom.js';
import type { Session } from './session.js';

const PAGE_SIZE = 25;
const SEARCH_DELAY_MS = 300;

export interface BoardFilters {
  q: string;
  status: PostStatus | '';
  tag: string;
}

export interface PostListOptions {
  onOpen: (postId: number) => void;
  onCompose: () => void;
}

interface Row {
  post: Post;
  item: HTMLLIElement;
}

export class PostList {
  readonly element = element('section', 'post-list-view');
  private readonly search = testId(element('input', 'board-input board-search'), 'board-search');
  private readonly status = testId(element('select', 'board-input'), 'board-status-filter');
  private readonly tag = testId(element('input', 'board-input board-tag-filter'), 'board-tag-filter');
  private readonly list = testId(element('ol', 'post-list'), 'post-list');
  private readonly empty = element('p', 'board-empty');
  private readonly more = testId(element('button', 'board-secondary board-more'), 'board-load-more');
  private readonly error = errorLine('board-list-error');
  private readonly rows = new Map<number, Row>();
  /** Replies already counted, so an event seen twice (or after our own POST) is counted once. */
  private readonly countedReplies = new Set<number>();
  private total = 0;
  private loaded = false;
  /** Bumped on every new query, so a slow answer to an older one is dropped. */
  private generation = 0;
  private searchTimer = 0;

  constructor(
    private readonly session: Session,
    options: PostListOptions,
  ) {
    this.search.type = 'search';
    this.search.placeholder = 'Search posts…';
    this.search.setAttribute('aria-label', 'Search posts');
    this.status.setAttribute('aria-label', 'Status');
    this.status.append(new Option('Any status', ''));
    for (const status of POST_STATUSES) {
      if (status !== 'moderated') this.status.append(new Option(status[0]!.toUpperCase() + status.slice(1), status));
    }
    this.tag.type = 'search';
    this.tag.placeholder = '#tag';
    this.tag.setAttribute('aria-label', 'Tag');
    this.tag.autocapitalize = 'off';
    this.tag.spellcheck = false;
    const reloadSoon = () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => void this.load(), SEARCH_DELAY_MS);
    };
    this.search.addEventListener('input', reloadSoon);
    this.tag.addEventListener('input', reloadSoon);
    this.status.addEventListener('change', () => void this.load());

    const compose = testId(button('New post', 'board-primary', options.onCompose), 'new-post-button');
    const toolbar = element('div', 'board-toolbar');
    const filters = element('div', 'board-filters');
    filters.append(this.status, this.tag);
    toolbar.append(this.search, compose);
    this.list.addEventListener('click', (event) => {
      const item = (event.target as Element | null)?.closest<HTMLElement>('[data-post-id]');
      if (item?.dataset.postId) options.onOpen(Number(item.dataset.postId));
    });
    this.more.type = 'button';
    this.more.textContent = 'More posts';
    this.more.hidden = true;
    this.more.addEventListener('click', () => void this.loadMore());
    this.empty.hidden = true;
    this.element.append(toolbar, filters, this.error, this.list, this.empty, this.more);
  }

  get filters(): BoardFilters {
    return {
      q: this.search.value.trim(),
      status: this.status.value as BoardFilters['status'],
      tag: this.tag.value.trim().replace(/^#/, '').toLowerCase(),
    };
  }

  /** Loads the list the first time it is shown. */
  ensureLoaded(): void {
    if (!this.loaded) void this.load();
  }

  /** Loads again if it was loaded (after a reconnect, a sign-in or a sign-out). */
  refresh(): void {
    if (this.loaded) void this.load();
  }

  showTag(tag: string): void {
    this.tag.value = tag;
    void this.load();
  }

  /** The first page for the current filters, from scratch (also after a reconnect or a sign-in). */
  async load(): Promise<void> {
    window.clearTimeout(this.searchTimer);
    const generation = ++this.generation;
    this.list.setAttribute('aria-busy', 'true');
    try {
      const page = await this.session.call((client) => client.posts(this.query(0)));
      if (generation !== this.generation) return;
      clearError(this.error);
      this.rows.clear();
      this.list.replaceChildren();
      for (const post of page.items) this.append(post);
      this.total = page.total;
      this.loaded = true;
      this.renderFooter();
    } catch (error) {
      if (generation === this.generation) showError(this.error, error);
    } finally {
      if (generation === this.generation) this.list.removeAttribute('aria-busy');
    }
  }

  private async loadMore(): Promise<void> {
    const generation = this.generation;
    this.more.disabled = true;
    try {
      const page = await this.session.call((client) => client.posts(this.query(this.rows.size)));
      if (generation !== this.generation) return;
      for (const post of page.items) if (!this.rows.has(post.id)) this.append(post);
      this.total = page.total;
      this.renderFooter();
    } catch (error) {
      showError(this.error, error);
    } finally {
      this.more.disabled = false;
    }
  }

  private query(start: number): ListParams {
    const { q, status, tag } = this.filters;
    const filter: Record<string, string> = {};
    if (q) filter.q = q;
    if (status) filter.status = status;
    if (tag) filter.tag = tag;
    return {
      // With a search the server orders by relevance unless told otherwise.
      ...(q ? {} : { sort: ['lastActivityAt', 'DESC'] as ['lastActivityAt', 'DESC'] }),
      range: [start, start + PAGE_SIZE - 1],
      filter,
    };
  }

  onEvent(event: BoardEvent): void {
    if (!this.loaded) return;
    switch (event.type) {
      case 'post.created':
        if (!this.rows.has(event.post.id) && this.fitsLive(event.post)) {
          this.prepend(event.post);
          this.total++;
          this.renderFooter();
        }
        break;
      case 'post.updated':
      case 'post.moderated':
        this.update(event.post);
        break;
      case 'reply.created': {
        const row = this.rows.get(event.post.id);
        if (!row || this.countedReplies.has(event.reply.id)) break;
        this.countedReplies.add(event.reply.id);
        row.post = { ...row.post, replyCount: row.post.replyCount + 1, lastActivityAt: event.reply.createdAt };
        this.render(row);
        // Ordered by latest activity (no search): the thread with the new reply goes to the top.
        if (!this.filters.q) this.list.prepend(row.item);
        break;
      }
      default:
        break;
    }
  }

  /** Takes in a post as the server now sends it (after an edit, a moderator's action, our own post). */
  update(post: Post): void {
    const row = this.rows.get(post.id);
    if (!row) return;
    post = keepHiddenPostText(row.post, post);
    if (!this.visible(post) || !this.fits(post)) {
      row.item.remove();
      this.rows.delete(post.id);
      this.total = Math.max(0, this.total - 1);
      this.renderFooter();
      return;
    }
    row.post = post;
    this.render(row);
  }

  /** Our own new post: at the top, whatever the filters, so the person sees it went up. */
  added(post: Post): void {
    if (this.rows.has(post.id) || !this.loaded) return;
    this.prepend(post);
    this.total++;
    this.renderFooter();
  }

  private visible(post: Post): boolean {
    return post.status !== 'moderated' || this.session.canReadHidden(post.author);
  }

  private fits(post: Post): boolean {
    const { status, tag } = this.filters;
    return (!status || post.status === status) && (!tag || post.tags.includes(tag));
  }

  /** A live post goes in only where the order is by time: with a search, the server ranks. */
  private fitsLive(post: Post): boolean {
    return !this.filters.q && this.visible(post) && this.fits(post);
  }

  private append(post: Post): void {
    this.list.append(this.createRow(post).item);
  }

  private prepend(post: Post): void {
    this.list.prepend(this.createRow(post).item);
  }

  private createRow(post: Post): Row {
    const item = testId(element('li', 'post-item'), 'post-item');
    item.dataset.postId = String(post.id);
    const row = { post, item };
    this.rows.set(post.id, row);
    this.render(row);
    return row;
  }

  private render({ post, item }: Row): void {
    const open = element('button', 'post-row');
    open.type = 'button';
    const heading = element('span', 'post-row-heading');
    heading.append(testId(element('span', 'post-row-title', post.title), 'post-title'), ...statusBadges(post));
    const meta = element('span', 'post-row-meta');
    const replies = testId(element('span', 'post-row-replies', `💬 ${post.replyCount}`), 'post-reply-count');
    replies.title = `${post.replyCount} ${post.replyCount === 1 ? 'reply' : 'replies'}`;
    meta.append(authorChip(post.author), timeAgo(post.lastActivityAt), replies);
    const audience = audienceNote(post);
    const tags = element('span', 'post-row-tags');
    tags.append(...(audience ? [audience] : []), ...post.tags.map((tag) => tagChip(tag)));
    open.append(heading, meta);
    if (tags.childElementCount > 0) open.append(tags);
    item.classList.toggle('post-item-moderated', post.status === 'moderated');
    item.replaceChildren(open);
  }

  private renderFooter(): void {
    const filtered = Object.values(this.filters).some(Boolean);
    this.empty.textContent = filtered ? 'No posts match.' : 'Nothing on the board yet. Pin the first note!';
    this.empty.hidden = this.rows.size > 0;
    this.more.hidden = this.rows.size >= this.total;
  }
}
