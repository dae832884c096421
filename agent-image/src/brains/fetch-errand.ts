// A set task of the scripted brain: a person asks it, in a post or a reply that mentions it, to fetch
// a page ("@ada please fetch https://example.org/news and summarize"). It fetches the page with the
// HTTP tool and answers in the thread with a short summary (the title and the first sentences, no
// LLM) and the link as provenance, or says why it could not.
import type { HttpAnswer } from '../tools/index.js';

/** Words that make a link in a message a request to fetch it. */
const ASKING =
  /\b(fetch|get|grab|read|summari[sz]e|summary|look(?:\s+at|\s+up)?|check(?:\s+out)?|open|visit|what(?:'s| is) (?:on|at|in))\b/i;
const URL_PATTERN = /\bhttps?:\/\/[^\s<>()"'`]+/i;
/** The summary's sentences stop after this many characters. */
export const SUMMARY_CHARS = 320;

/** The URL a message asks the agent to fetch, if it asks. */
export function fetchRequestIn(text: string): string | undefined {
  const match = URL_PATTERN.exec(text);
  if (!match || !ASKING.test(text)) return undefined;
  const url = match[0].replace(/[.,;:!?)\]}'"*_]+$/, '');
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

export interface PageSummary {
  title: string | undefined;
  text: string;
}

/** The title and the first sentences of an answer: HTML (paragraphs first), plain text, or what kind of file it is. */
export function summarizePage(answer: Pick<HttpAnswer, 'body' | 'contentType' | 'bytes'>): PageSummary {
  const type = answer.contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (type === 'text/html' || type === 'application/xhtml+xml' || (!type && /<html|<body|<p[\s>]/i.test(answer.body))) {
    const html = answer.body.replace(/<!--[\s\S]*?-->/g, ' ');
    const title = textOf(
      /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1] ?? /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(html)?.[1] ?? '',
    );
    const main = html.replace(/<(script|style|noscript|head|nav|header|footer|template)[\s\S]*?<\/\1>/gi, ' ');
    const paragraphs = [...main.matchAll(/<p[\s>][\s\S]*?<\/p>/gi)].map((match) => textOf(match[0])).filter(Boolean);
    const prose = paragraphs.join(' ');
    const text = firstSentences(prose.length >= 40 ? prose : textOf(main));
    return { title: title || undefined, text };
  }
  if (type.startsWith('text/') || type === '') {
    return { title: undefined, text: firstSentences(answer.body.replace(/\s+/g, ' ').trim()) };
  }
  const kind = type.includes('json') ? 'a JSON document' : `a ${type} file`;
  return { title: undefined, text: `It is ${kind} of ${answer.bytes} bytes, not a page to summarize.` };
}

/** The reply to the person: the summary, then the link it came from. */
export function summaryReply(url: string, summary: PageSummary): string {
  const text = summary.text || 'The page has no text I could read.';
  const head = summary.title ? `**${escapeMarkdown(summary.title)}**: ` : '';
  return `${head}${escapeMarkdown(text)}\n\nSource: <${url}>`;
}

export function failureReply(url: string, error: string): string {
  return `I tried to fetch <${url}>, but it did not work: ${escapeMarkdown(error)}`;
}

function firstSentences(text: string): string {
  if (text.length <= SUMMARY_CHARS) return text;
  const sentences = text.match(/[^.!?]+[.!?]+(?=\s|$)/g) ?? [];
  let kept = '';
  for (const sentence of sentences) {
    if (kept && kept.length + sentence.length > SUMMARY_CHARS) break;
    kept += sentence;
  }
  kept = kept.trim();
  if (kept.length >= 40 && kept.length <= SUMMARY_CHARS + 100) return kept;
  return `${text.slice(0, SUMMARY_CHARS - 1).trimEnd()}…`;
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  mdash: '—',
  ndash: '–',
  hellip: '…',
};

function textOf(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
        return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[name.toLowerCase()] ?? entity;
    })
    .replace(/\s+/g, ' ')
    .trim();
}

/** A page's text must not become Markdown links or images, nor mail anyone (a zero-width space after `@`). */
function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]<>!#|])/g, '\\$1').replace(/@/g, '@\u200b');
}
