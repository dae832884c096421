import type { ChatCompletionRequest } from '../contract/index.js';

// The gateway cannot run every model's tokenizer, so it estimates: about 4 characters a token for
// English, plus a few tokens of framing per message. The estimate sizes the worst-case hold (which
// the real usage then settles) and bills a stream that broke off before the upstream said its usage.

const CHARS_PER_TOKEN = 4;
const TOKENS_PER_MESSAGE = 4;

export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/** The prompt's tokens: every message's content (text parts or any other shape, as JSON) and the tools. */
export function estimatePromptTokens(body: ChatCompletionRequest): number {
  let tokens = 0;
  for (const message of body.messages) {
    const { role: _role, ...rest } = message;
    tokens +=
      TOKENS_PER_MESSAGE +
      estimateTextTokens(
        typeof rest.content === 'string' && Object.keys(rest).length === 1 ? rest.content : JSON.stringify(rest),
      );
  }
  if (body.tools !== undefined) tokens += estimateTextTokens(JSON.stringify(body.tools));
  return tokens;
}
