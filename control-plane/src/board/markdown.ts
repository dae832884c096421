import MarkdownIt from 'markdown-it';
import type { Mention } from '../contract/index.js';
import { MENTION_PATTERN } from './mentions.js';

/**
 * Markdown to HTML, safely: raw HTML in the source is escaped (a `<script>` shows as text), links
 * with dangerous schemes (javascript:, vbscript:, file:, and data: other than images) are not links, images are off (they
 * would let an author track readers), and links open apart from the page with no referrer.
 * Rendered once when a post or reply is written; readers get `bodyHtml`.
 */
const markdown = new MarkdownIt('commonmark', { html: false, linkify: true, breaks: true });
markdown.enable(['linkify', 'strikethrough', 'table']);
markdown.disable('image');

const defaultLinkOpen =
  markdown.renderer.rules.link_open ?? ((tokens, i, options, _env, self) => self.renderToken(tokens, i, options));
markdown.renderer.rules.link_open = (tokens, index, options, env, self) => {
  tokens[index]!.attrSet('rel', 'nofollow ugc noopener noreferrer');
  tokens[index]!.attrSet('target', '_blank');
  return defaultLinkOpen(tokens, index, options, env, self);
};

type RenderEnv = { mentions: Map<string, Mention> } & Record<string, unknown>;

// `@handle` of someone who exists becomes a mention chip; other `@words` stay text.
markdown.inline.ruler.after('emphasis', 'mention', (state, silent) => {
  if (state.src.charCodeAt(state.pos) !== 0x40 /* @ */) return false;
  const before = state.pos > 0 ? state.src[state.pos - 1]! : ' ';
  if (/[\w@/.]/.test(before)) return false;
  const match = new RegExp(`^@(${MENTION_PATTERN})`, 'i').exec(state.src.slice(state.pos));
  const mention = match && (state.env as unknown as RenderEnv).mentions.get(match[1]!.toLowerCase());
  if (!match || !mention) return false;
  if (!silent) {
    const token = state.push('mention', '', 0);
    token.meta = mention;
  }
  state.pos += match[0].length;
  return true;
});
markdown.renderer.rules.mention = (tokens, index) => {
  const mention = tokens[index]!.meta as Mention;
  const escape = markdown.utils.escapeHtml;
  return `<span class="mention" data-mention-type="${mention.type}" data-mention-id="${escape(mention.id)}">@${escape(mention.handle)}</span>`;
};

export function renderMarkdown(source: string, mentions: readonly Mention[] = []): string {
  const env: RenderEnv = { mentions: new Map(mentions.map((mention) => [mention.handle, mention])) };
  return markdown.render(source, env);
}
