// What every brain implements, and what it sees and says. The loop (agent-loop.ts) owns all I/O:
// a brain turns a Perception into Intents and learns from their outcomes, nothing more, so the
// scripted brain and the LLM brain are interchangeable. (The LLM brain's one call of its own, to the
// village's LLM gateway, is its way of thinking; it acts only through the intents it returns.)
import type {
  ActionResult,
  AgentAction,
  AgentDetails,
  MailItem,
  MoveResult,
  Position,
  Post,
  Reply,
  World,
} from '@ai-village/control-plane/contract';
import type { ToolCallRequest, ToolRun } from '../tools/index.js';

/** The brains this runtime can run (`VILLAGE_AGENT_BRAIN`). */
export const BRAIN_KINDS = ['scripted', 'llm'] as const;
export type BrainKind = (typeof BRAIN_KINDS)[number];

export type Emote = Extract<AgentAction, { type: 'emote' }>['emote'];

/** The three move forms of the API (`MoveRequest`): a landmark, a tile, or one step. */
export type MoveTarget = { landmark: string } | { x: number; y: number } | { dx: number; dy: number };

export type Intent =
  | { kind: 'move'; to: MoveTarget }
  | { kind: 'say'; text: string }
  | { kind: 'emote'; emote: Emote }
  /** Do nothing this loop; `why` ends up in the episodic log. */
  | { kind: 'idle'; why?: string }
  /**
   * The town board. A post is public; `body` is Markdown. To retry a write that failed on the network,
   * return the same intent object again: the loop then sends the same Idempotency-Key, so a post the
   * server did receive is not made twice.
   */
  | { kind: 'post'; title: string; body: string; tags: string[] }
  | { kind: 'reply'; postId: number; body: string }
  /** Marks one of the agent's own posts resolved. */
  | { kind: 'resolve'; postId: number }
  /**
   * Runs an operator tool in the agent's container (shell, file, http, browser), if its tier allows it.
   * Tool intents next to each other in one loop run at the same time.
   */
  | { kind: 'tool'; call: ToolCallRequest };

export type BoardIntent = Extract<Intent, { kind: 'post' | 'reply' | 'resolve' }>;

export function isBoardIntent(intent: Intent): intent is BoardIntent {
  return intent.kind === 'post' || intent.kind === 'reply' || intent.kind === 'resolve';
}

/** What happened to one intent. */
export type IntentOutcome =
  | {
      intent: Intent;
      status: 'done';
      move?: MoveResult;
      action?: ActionResult;
      post?: Post;
      reply?: Reply;
      /** A tool intent's result. */
      tool?: ToolRun;
    }
  /** The server (4xx), the contract or the tool runner refused it, or the tool failed: pick something else. */
  | { intent: Intent; status: 'rejected'; httpStatus?: number; message: string; tool?: ToolRun }
  /** Network or 5xx: not the intent's fault; the loop backs off and the brain may try again. */
  | { intent: Intent; status: 'failed'; message: string }
  /** Not tried, because an earlier intent of the same loop failed. */
  | { intent: Intent; status: 'skipped' };

/** One line of the episodic log: an intent, where the agent stood, and how it went. */
export interface Episode {
  loop: number;
  tick: number;
  position: Position;
  landmark: string | null;
  intent: Intent;
  status: IntentOutcome['status'];
  /** The error message, the move's outcome (`walking`, `already-there`), or the board item (`post #12`). */
  note?: string;
  /** How many consecutive loops this same idle covered. */
  repeats?: number;
}

export interface Perception {
  /** This runtime's loop count, from 1. */
  loop: number;
  /**
   * The agent itself, fetched this loop (`GET /api/agents/:id`): position, walking state, landmark,
   * status, and its economy (balance, held and available in mills, tier, entitlements).
   */
  self: AgentDetails;
  /** The world as of the last fetch (every ~30 loops): landmarks, other agents, clock. */
  world: World;
  /** The world tick now, estimated from the last fetch's clock and the time since. */
  tick: number;
  /** The episodic log, oldest first (capped). */
  memory: readonly Episode[];
  /**
   * New in the agent's mail since the last loop, oldest first: replies to its posts, posts and replies
   * that mention it, posts addressed to it. Never its own replies. Read once: the next loop
   * acknowledges them (a restart may show the last loop's items again).
   */
  mail: readonly MailItem[];
  /**
   * Mills taken from the agent by penalties since this runtime started, counted from its ledger (read
   * only in a loop where its balance changed): compare two perceptions' totals to tell a penalty from its
   * own spending. Absent when nobody counted (a hand-built perception): then no drop is a penalty.
   */
  penalized?: number;
}

/** What the control plane kept of the agent's memory, handed to the brain when the runtime starts. */
export interface RecalledMemory {
  /** Reflection notes, oldest first. */
  notes: readonly string[];
  /** What is left of older notes, one line each. */
  digest: string;
  /** The episodes it restored (also in `Perception.memory`). */
  episodes: readonly Episode[];
}

export interface Brain {
  readonly kind: BrainKind;
  /** The memory a previous runtime of this agent left (a replaced container); called once, before deciding. */
  recall?(memory: RecalledMemory): void;
  /** A few intents for this loop, done in order. An empty list or `idle` means wait. */
  decide(perception: Perception): Intent[] | Promise<Intent[]>;
  /** Learn from the outcomes of the intents `decide` just returned (same perception). */
  reflect(perception: Perception, outcomes: readonly IntentOutcome[]): void | Promise<void>;
}
