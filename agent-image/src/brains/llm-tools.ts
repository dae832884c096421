// The LLM brain's hands: one tool per intent the loop can perform (brain.ts), described to the model
// in JSON Schema, and the model's tool calls turned back into intents. Every call is checked with the
// contract's own schemas (the ones the server applies), so a bad call is refused here, with a message
// the model reads in its memory next turn, and never reaches the village or crashes the brain.
import { z } from 'zod';
import {
  AgentActionSchema,
  BOARD_LIMITS,
  CreatePostRequestSchema,
  CreateReplyRequestSchema,
  EMOTES,
  MoveRequestSchema,
} from '@ai-village/control-plane/contract';
import type { AgentTool, Landmark } from '@ai-village/control-plane/contract';
import { BROWSER_LIMITS } from '../tools/browser-tool.js';
import { FILE_LIMITS } from '../tools/file-tool.js';
import { HTTP_LIMITS, HTTP_METHODS } from '../tools/http-tool.js';
import { SHELL_LIMITS } from '../tools/shell-tool.js';
import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import type { Intent } from './brain.js';
import { normalize } from './landmark-mentions.js';

/** At most this many tool calls become intents in one loop; the rest are refused. */
export const MAX_TOOL_CALLS_PER_LOOP = 3;
/** The longest `say` the brain lets through (the API takes 500; people read speech bubbles). */
export const SAY_MAX_CHARS = 300;
/** An idle's reason is cut to this, as it ends up in the episodic log. */
const IDLE_WHY_MAX_CHARS = 120;

export const TOOL_NAMES = ['move_to', 'step', 'say', 'emote', 'post', 'reply', 'resolve', 'idle'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];
/** The operator tools, offered only when the agent's tier grants them (`entitlements.tools`). */
export const OPERATOR_TOOL_NAMES = ['shell', 'file', 'http', 'browser'] as const satisfies readonly AgentTool[];

const postId = { type: 'integer', minimum: 1, description: 'the post id, as shown in your mail and memory (#12 → 12)' };

/** The tools, in the OpenAI function-calling format the gateway passes through. */
export const VILLAGE_TOOLS: readonly ChatCompletionFunctionTool[] = [
  tool(
    'move_to',
    'Walk to a landmark (by its id, e.g. "cafe") or to a tile. The village walks you one tile per tick.',
    {
      landmark: { type: 'string', description: 'a landmark id from the list in the system message' },
      x: { type: 'integer', minimum: 0, description: 'tile column, with y, instead of a landmark' },
      y: { type: 'integer', minimum: 0, description: 'tile row, with x, instead of a landmark' },
    },
  ),
  tool(
    'step',
    'Take one step to a neighbouring tile: exactly one of dx, dy is 1 or -1, the other 0.',
    {
      dx: { type: 'integer', minimum: -1, maximum: 1 },
      dy: { type: 'integer', minimum: -1, maximum: 1 },
    },
    ['dx', 'dy'],
  ),
  tool(
    'say',
    `Say something out loud, heard by whoever is near (at most ${SAY_MAX_CHARS} characters; keep it short).`,
    { text: { type: 'string', minLength: 1, maxLength: SAY_MAX_CHARS } },
    ['text'],
  ),
  tool('emote', 'Show a feeling.', { emote: { type: 'string', enum: [...EMOTES] } }, ['emote']),
  tool(
    'post',
    'Pin a new public post on the town board (a question, an offer, news). Markdown body.',
    {
      title: { type: 'string', minLength: 1, maxLength: BOARD_LIMITS.title },
      body: { type: 'string', maxLength: 2000 },
      tags: {
        type: 'array',
        maxItems: BOARD_LIMITS.tags,
        items: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$' },
        description: 'a few lower-case tags, e.g. ["question"]',
      },
    },
    ['title', 'body'],
  ),
  tool(
    'reply',
    'Reply in a thread on the town board, e.g. to answer your mail.',
    { postId, body: { type: 'string', minLength: 1, maxLength: 2000 } },
    ['postId', 'body'],
  ),
  tool('resolve', 'Mark one of your own posts resolved, once it is answered.', { postId }, ['postId']),
  tool('idle', 'Do nothing this turn (resting, waiting, walking).', {
    why: { type: 'string', maxLength: IDLE_WHY_MAX_CHARS },
  }),
];

/** The operator tools in the same format; their inputs are checked by the tools themselves (tools/). */
export const OPERATOR_TOOLS: Readonly<Record<AgentTool, ChatCompletionFunctionTool>> = {
  shell: operatorTool(
    'shell',
    `Run a bash command in your own computer (a container; your files are in the workspace). Output is cut at ${SHELL_LIMITS.stdoutBytes / 1024} KiB; the command is killed after timeoutMs (default ${SHELL_LIMITS.defaultTimeoutMs}).`,
    {
      command: { type: 'string', minLength: 1, maxLength: 10_000 },
      cwd: { type: 'string', description: 'a directory inside the workspace' },
      env: { type: 'object', additionalProperties: { type: 'string' } },
      timeoutMs: { type: 'integer', minimum: 100, maximum: SHELL_LIMITS.maxTimeoutMs },
    },
    ['command'],
  ),
  file: operatorTool(
    'file',
    'Read, write or list files in your workspace (paths relative to it; nothing outside it).',
    {
      op: { type: 'string', enum: ['read', 'write', 'list'] },
      path: { type: 'string' },
      content: { type: 'string', maxLength: FILE_LIMITS.maxWriteChars, description: 'for write' },
      append: { type: 'boolean', description: 'for write: add to the end' },
      offset: { type: 'integer', minimum: 0, description: 'for read: start at this byte' },
    },
    ['op'],
  ),
  http: operatorTool(
    'http',
    `Make an HTTP request to a site your tier may reach. The body is cut at ${HTTP_LIMITS.defaultMaxBytes / 1024} KiB.`,
    {
      url: { type: 'string', description: 'http:// or https:// URL' },
      method: { type: 'string', enum: [...HTTP_METHODS] },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: { type: 'string' },
    },
    ['url'],
  ),
  browser: operatorTool(
    'browser',
    `Use a web browser: open a URL, read the page text, click or fill an element (CSS selector), or save a screenshot in your workspace. Each step waits at most ${BROWSER_LIMITS.defaultTimeoutMs} ms.`,
    {
      action: { type: 'string', enum: ['open', 'text', 'click', 'fill', 'screenshot', 'close'] },
      url: { type: 'string', description: 'for open' },
      selector: { type: 'string', description: 'for text (optional), click and fill' },
      value: { type: 'string', description: 'for fill' },
      path: { type: 'string', description: 'for screenshot: a .png in the workspace' },
    },
    ['action'],
  ),
};

/** The village tools, then the operator tools the tier grants. */
export function toolsFor(allowed: readonly AgentTool[]): ChatCompletionFunctionTool[] {
  return [
    ...VILLAGE_TOOLS,
    ...OPERATOR_TOOL_NAMES.filter((name) => allowed.includes(name)).map((name) => OPERATOR_TOOLS[name]),
  ];
}

function operatorTool(
  name: AgentTool,
  description: string,
  properties: Record<string, unknown>,
  required: string[],
): ChatCompletionFunctionTool {
  return {
    type: 'function',
    function: { name, description, parameters: { type: 'object', properties, required, additionalProperties: false } },
  };
}

function tool(
  name: ToolName,
  description: string,
  properties: Record<string, unknown>,
  required: string[] = [],
): ChatCompletionFunctionTool {
  return {
    type: 'function',
    function: { name, description, parameters: { type: 'object', properties, required, additionalProperties: false } },
  };
}

/** What the model asked for: a function name and its arguments, a JSON string as the API sends them. */
export interface ToolCallRequest {
  name: string;
  arguments: string;
}

export type ToolCallResult = { ok: true; intent: Intent } | { ok: false; message: string };

/** A post id: a positive whole number (a model may write "12" or "#12"; both mean 12). */
const PostIdSchema = z.preprocess(
  (value) =>
    typeof value === 'string' && /^#?\d{1,12}$/.test(value.trim()) ? Number(value.trim().replace('#', '')) : value,
  z.number({ error: 'must be a post id (a whole number)' }).int('must be a whole number').positive('must be above 0'),
);

/**
 * One tool call → one intent, or the reason it is refused. `landmarks` are the world's: a landmark
 * named by its name ("Café Aurora") rather than its id is accepted, and one the village lacks is
 * refused here, naming a few that exist, instead of costing a request and a 422.
 */
export function intentFromToolCall(call: ToolCallRequest, landmarks: readonly Landmark[]): ToolCallResult {
  const operator = (OPERATOR_TOOL_NAMES as readonly string[]).includes(call.name);
  if (!operator && !(TOOL_NAMES as readonly string[]).includes(call.name)) {
    return refuse(`there is no tool "${clip(call.name, 40)}"; use one of ${TOOL_NAMES.join(', ')}`);
  }
  let parsed: unknown;
  try {
    parsed = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
  } catch {
    return refuse(`${call.name}: the arguments are not JSON (${clip(call.arguments, 60)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return refuse(`${call.name}: the arguments must be a JSON object`);
  }
  // Models often spell "not given" as null; the contract's schemas say it by leaving the key out.
  const args = Object.fromEntries(Object.entries(parsed).filter(([, value]) => value !== null && value !== undefined));
  // The tool runner checks an operator tool's input and the tier, and logs the call either way.
  if (operator) return { ok: true, intent: { kind: 'tool', call: { tool: call.name, input: args } } };
  const name = call.name as ToolName;
  switch (name) {
    case 'move_to':
      return moveTo(args, landmarks);
    case 'step': {
      const checked = MoveRequestSchema.safeParse({ dx: args.dx ?? 0, dy: args.dy ?? 0 });
      if (!checked.success || checked.data.kind !== 'step') return refuse(`step: ${issues(checked.error)}`);
      return { ok: true, intent: { kind: 'move', to: { dx: checked.data.dx, dy: checked.data.dy } } };
    }
    case 'say': {
      if (typeof args.text === 'string' && args.text.trim().length > SAY_MAX_CHARS) {
        return refuse(`say: text is ${args.text.trim().length} characters; at most ${SAY_MAX_CHARS}`);
      }
      const checked = AgentActionSchema.safeParse({ type: 'say', text: args.text });
      if (!checked.success || checked.data.type !== 'say') return refuse(`say: ${issues(checked.error)}`);
      return { ok: true, intent: { kind: 'say', text: checked.data.text } };
    }
    case 'emote': {
      const checked = AgentActionSchema.safeParse({ type: 'emote', emote: args.emote });
      if (!checked.success || checked.data.type !== 'emote') return refuse(`emote: ${issues(checked.error)}`);
      return { ok: true, intent: { kind: 'emote', emote: checked.data.emote } };
    }
    case 'post': {
      const checked = CreatePostRequestSchema.safeParse({
        title: args.title,
        body: args.body ?? '',
        tags: args.tags ?? [],
        audience: 'public',
      });
      if (!checked.success) return refuse(`post: ${issues(checked.error)}`);
      const { title, body, tags } = checked.data;
      return { ok: true, intent: { kind: 'post', title, body, tags } };
    }
    case 'reply': {
      const id = PostIdSchema.safeParse(args.postId);
      if (!id.success) return refuse(`reply: postId ${issues(id.error)}`);
      const checked = CreateReplyRequestSchema.safeParse({ body: args.body });
      if (!checked.success) return refuse(`reply: ${issues(checked.error)}`);
      return { ok: true, intent: { kind: 'reply', postId: id.data, body: checked.data.body } };
    }
    case 'resolve': {
      const id = PostIdSchema.safeParse(args.postId);
      if (!id.success) return refuse(`resolve: postId ${issues(id.error)}`);
      return { ok: true, intent: { kind: 'resolve', postId: id.data } };
    }
    case 'idle': {
      const why =
        typeof args.why === 'string' && args.why.trim() !== '' ? clip(args.why.trim(), IDLE_WHY_MAX_CHARS) : '';
      return { ok: true, intent: why ? { kind: 'idle', why } : { kind: 'idle' } };
    }
  }
}

function moveTo(args: Record<string, unknown>, landmarks: readonly Landmark[]): ToolCallResult {
  if (args.landmark !== undefined && (args.x !== undefined || args.y !== undefined)) {
    return refuse('move_to: give a landmark or x and y, not both');
  }
  if (args.landmark !== undefined) {
    if (typeof args.landmark !== 'string' || args.landmark.trim() === '') {
      return refuse('move_to: landmark must be a landmark id');
    }
    const wanted = normalize(args.landmark);
    const found =
      landmarks.find((landmark) => landmark.id === args.landmark) ??
      landmarks.find((landmark) => normalize(landmark.id) === wanted || normalize(landmark.name) === wanted);
    if (!found) {
      const some = landmarks
        .slice(0, 8)
        .map((landmark) => landmark.id)
        .join(', ');
      return refuse(`move_to: there is no landmark "${clip(args.landmark, 40)}" (there are: ${some}…)`);
    }
    const checked = MoveRequestSchema.safeParse({ landmark: found.id });
    if (!checked.success) return refuse(`move_to: ${issues(checked.error)}`);
    return { ok: true, intent: { kind: 'move', to: { landmark: found.id } } };
  }
  const checked = MoveRequestSchema.safeParse({ x: args.x, y: args.y });
  if (!checked.success || checked.data.kind !== 'tile') {
    return refuse(`move_to: ${checked.success ? 'give a landmark, or both x and y' : issues(checked.error)}`);
  }
  return { ok: true, intent: { kind: 'move', to: { x: checked.data.x, y: checked.data.y } } };
}

function refuse(message: string): ToolCallResult {
  return { ok: false, message };
}

function issues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } | undefined): string {
  if (!error) return 'not valid';
  return error.issues
    .slice(0, 2)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join('.')} ${issue.message}` : issue.message))
    .join('; ');
}

/** Cuts a text to `max` characters, marking the cut. */
export function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
}
