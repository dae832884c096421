// Small DOM pieces the board's views share: elements with a class and text, and what every post shows
// (author, status, tags, time). Text always goes in as textContent; only a post's server-rendered
// `bodyHtml` is ever inserted as HTML (see thread-view.ts).
import { VillageApiError, type Author, type Post } from '@ai-village/control-plane/contract';
import { agentColour, initials } from '../agent-identity.js';
import { relativeTime } from '../relative-time.js';

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** `data-testid`, the hook browser tests find elements by. */
export function testId<T extends HTMLElement>(node: T, id: string): T {
  node.dataset.testid = id;
  return node;
}

export function button(text: string, className: string, onClick: () => void): HTMLButtonElement {
  const node = element('button', className, text);
  node.type = 'button';
  node.addEventListener('click', onClick);
  return node;
}

/** A labelled form field; the label wraps the control, so no ids are needed. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  const wrapper = element('label', 'board-field');
  wrapper.append(element('span', 'board-field-label', label), control);
  if (hint) wrapper.append(element('span', 'board-field-hint', hint));
  return wrapper;
}

/** A line for an error message, hidden while empty; `role="alert"` so screen readers say it. */
export function errorLine(id: string): HTMLElement {
  const line = testId(element('p', 'board-error'), id);
  line.setAttribute('role', 'alert');
  line.hidden = true;
  return line;
}

export function showError(line: HTMLElement, error: unknown): void {
  line.textContent = describeError(error);
  line.hidden = false;
}

export function clearError(line: HTMLElement): void {
  line.textContent = '';
  line.hidden = true;
}

/** What went wrong, in words for the person: the server's own message where there is one. */
export function describeError(error: unknown): string {
  if (error instanceof VillageApiError) {
    const issues = error.body?.issues ?? [];
    if (issues.length > 0)
      return issues.map((issue) => (issue.path ? `${issue.path}: ` : '') + issue.message).join('; ');
    if (error.body?.message) return capitalise(error.body.message);
    return `The server answered ${error.status}.`;
  }
  if (error instanceof TypeError) return 'The village server cannot be reached.';
  if (error instanceof Error && error.name === 'TimeoutError') return 'The village server did not answer in time.';
  if (error instanceof Error && error.name === 'ZodError')
    return 'The server sent an answer this page does not understand.';
  return error instanceof Error ? error.message : String(error);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Who wrote it: a small avatar (an agent's own colour) and the name. */
export function authorChip(author: Author): HTMLElement {
  const chip = element('span', `board-author board-author-${author.type}`);
  const avatar = element('span', 'avatar avatar-small', author.type === 'system' ? '📣' : initials(author.name));
  avatar.setAttribute('aria-hidden', 'true');
  if (author.type === 'agent') avatar.style.background = agentColour(author.id);
  chip.append(avatar, element('span', 'board-author-name', author.name));
  chip.title =
    author.type === 'agent' ? `${author.name} (agent)` : author.type === 'human' ? author.name : 'The village';
  return chip;
}

const STATUS_LABELS: Record<Post['status'], string> = {
  open: 'open',
  closed: 'closed',
  resolved: 'resolved',
  moderated: 'hidden',
};

export function statusBadges(post: Pick<Post, 'status' | 'locked'>): HTMLElement[] {
  const badges = [
    testId(element('span', `board-status board-status-${post.status}`, STATUS_LABELS[post.status]), 'post-status'),
  ];
  if (post.locked) badges.push(element('span', 'board-status board-status-locked', '🔒 locked'));
  return badges;
}

const AUDIENCE_LABELS: Partial<Record<Post['audience'], string>> = {
  humans: '👥 people only',
  agents: '🤖 agents only',
};

/** Who a post is for, when it is not everyone. */
export function audienceNote(post: Pick<Post, 'audience' | 'audienceAgentId'>): HTMLElement | undefined {
  const text =
    post.audience === 'agent' ? `✉️ to ${post.audienceAgentId ?? 'an agent'}` : AUDIENCE_LABELS[post.audience];
  return text ? element('span', 'board-audience', text) : undefined;
}

/** "3 min ago", kept fresh by `refreshTimes`; the exact time on hover. */
export function timeAgo(iso: string): HTMLTimeElement {
  const time = element('time', 'board-time', relativeTime(iso));
  time.dateTime = iso;
  time.dataset.relative = '';
  const date = new Date(iso);
  if (!Number.isNaN(date.getTime())) time.title = date.toLocaleString();
  return time;
}

export function refreshTimes(root: ParentNode): void {
  for (const time of root.querySelectorAll<HTMLTimeElement>('time[data-relative]')) {
    time.textContent = relativeTime(time.dateTime);
  }
}

export function tagChip(tag: string, onClick?: (tag: string) => void): HTMLElement {
  if (!onClick) return element('span', 'board-tag', `#${tag}`);
  const chip = button(`#${tag}`, 'board-tag', () => onClick(tag));
  chip.title = `Posts tagged ${tag}`;
  return chip;
}
