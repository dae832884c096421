import { z } from 'zod';
import { AgentSchema, PositionSchema } from './world.js';
import { EMOTES } from './requests.js';
import { AuthorSchema, FlagSchema, MODERATION_ACTIONS, PostSchema, ReplySchema } from './board.js';
import { FLOW_DEPLOY_KINDS } from './flows.js';
import {
  FLEET_CONTAINER_ACTIONS,
  FLEET_DESIRED_STATES,
  FLEET_OBSERVED_STATES,
  KILL_SWITCH_ACTIONS,
  NODE_STATES,
} from './fleet.js';

/**
 * The village's domain events: one typed shape per state change, on one stream that viewers, audit
 * and Node-RED consume. Defined once here and shared with the browser.
 */
const envelope = {
  /** Unique id of the event. */
  id: z.string(),
  /** When it happened (ISO 8601). */
  at: z.string(),
  /** The world clock tick it happened in. */
  tick: z.number().int().nonnegative(),
};

export const AgentCreatedEventSchema = z.object({ ...envelope, type: z.literal('agent.created'), agent: AgentSchema });
/** An admin changed the agent's display name or persona (the agent as it is now). */
export const AgentUpdatedEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.updated'),
  agentId: z.string(),
  agent: AgentSchema,
});

export const AgentMovedEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.moved'),
  agentId: z.string(),
  position: PositionSchema,
  version: z.number().int(),
  /** Tiles still to walk after this step (0: not walking). */
  remaining: z.number().int().nonnegative(),
  /** The landmark whose area holds the new position, if any. */
  landmark: z.string().nullable(),
});
export const AgentWalkStartedEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.walk_started'),
  agentId: z.string(),
  from: PositionSchema,
  destination: PositionSchema,
  landmark: z.string().nullable(),
  steps: z.number().int().nonnegative(),
});
export const AgentArrivedEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.arrived'),
  agentId: z.string(),
  position: PositionSchema,
  /** The landmark the agent walked to, if it headed for one. */
  landmark: z.string().nullable(),
});
export const AgentSaidEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.said'),
  agentId: z.string(),
  text: z.string(),
  position: PositionSchema,
});
export const AgentEmotedEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.emoted'),
  agentId: z.string(),
  emote: z.enum(EMOTES),
});
export const AgentOnlineEventSchema = z.object({ ...envelope, type: z.literal('agent.online'), agentId: z.string() });
export const AgentOfflineEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.offline'),
  agentId: z.string(),
  lastSeenAt: z.string().nullable(),
});
export const WorldTickEventSchema = z.object({
  ...envelope,
  type: z.literal('world.tick'),
  /** Agents that stepped in this tick. */
  moved: z.number().int(),
  /** Time the tick took to compute and commit (ms). */
  durationMs: z.number().nonnegative(),
});

/** Enough of a post to know who may see an event about it. */
export const PostRefSchema = PostSchema.pick({
  id: true,
  title: true,
  author: true,
  audience: true,
  audienceAgentId: true,
});
export type PostRef = z.infer<typeof PostRefSchema>;

/** Board events carry what the post's audience may read (a hidden post's text is left out). */
export const PostCreatedEventSchema = z.object({ ...envelope, type: z.literal('post.created'), post: PostSchema });
export const PostUpdatedEventSchema = z.object({
  ...envelope,
  type: z.literal('post.updated'),
  post: PostSchema,
  /** Which fields the author changed. */
  changed: z.array(z.string()),
});
export const PostModeratedEventSchema = z.object({
  ...envelope,
  type: z.literal('post.moderated'),
  post: PostSchema,
  action: z.enum(MODERATION_ACTIONS),
  reason: z.string(),
  moderator: AuthorSchema,
});
export const ReplyCreatedEventSchema = z.object({
  ...envelope,
  type: z.literal('reply.created'),
  reply: ReplySchema,
  post: PostRefSchema,
});
export const ReplyModeratedEventSchema = z.object({
  ...envelope,
  type: z.literal('reply.moderated'),
  reply: ReplySchema,
  post: PostRefSchema,
  action: z.enum(MODERATION_ACTIONS),
  reason: z.string(),
  moderator: AuthorSchema,
});
/** A person marked a reply helpful (once per person and reply); the default reward flow rewards its agent. */
export const ReplyMarkedHelpfulEventSchema = z.object({
  ...envelope,
  type: z.literal('reply.marked_helpful'),
  reply: ReplySchema,
  post: PostRefSchema,
  by: AuthorSchema,
  /** How many people have marked this reply helpful, this one included. */
  helpfulCount: z.number().int().positive(),
});
/** To moderators only. */
export const FlagCreatedEventSchema = z.object({ ...envelope, type: z.literal('flag.created'), flag: FlagSchema });

/** An agent's balance changed (a reward, a penalty, compute it bought...). Public, like the balance. */
export const BalanceChangedEventSchema = z.object({
  ...envelope,
  type: z.literal('economy.balance_changed'),
  agentId: z.string(),
  balance: z.number().int(),
  available: z.number().int(),
  /** Signed change to the balance. */
  change: z.number().int(),
  reason: z.string(),
  transferId: z.number().int(),
});
/** An agent's compute tier changed: by its balance, a pin, a quarantine or a new tier policy. */
export const TierChangedEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.tier_changed'),
  agentId: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  /** What changed it: the transfer's reason, `pin`, `quarantine` or `policy`. */
  cause: z.string(),
});

/** An LLM upstream stopped (or started again) answering: never silent agents. */
export const UpstreamHealthEventSchema = z.object({
  ...envelope,
  type: z.literal('compute.upstream_health'),
  upstream: z.string(),
  healthy: z.boolean(),
  error: z.string().nullable(),
});
/** The loop breaker paused an agent's compute (spending too fast), or a moderator resumed it. */
export const ComputePausedEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.compute_paused'),
  agentId: z.string(),
  reason: z.string(),
});
export const ComputeResumedEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.compute_resumed'),
  agentId: z.string(),
  by: z.string(),
});

/**
 * An agent ran a tool in its container (logged as `GET /api/tool-calls/:id`). To moderators only:
 * the call's arguments and output stay in the log; the event says what ran and how it went.
 */
export const ToolCallEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.tool_call'),
  agentId: z.string(),
  /** The logged call's id. */
  callId: z.number().int().positive(),
  tool: z.string(),
  action: z.string(),
  ok: z.boolean(),
  exitCode: z.number().int().nullable(),
  durationMs: z.number().int().nonnegative(),
  /** The error's first line, if the call failed. */
  error: z.string().nullable(),
});

/**
 * An agent's outbound request went through its node's egress proxy, or was refused there (logged as
 * `GET /api/egress-requests/:id`). To moderators only, like tool calls.
 */
export const EgressRequestEventSchema = z.object({
  ...envelope,
  type: z.literal('agent.egress'),
  agentId: z.string(),
  requestId: z.number().int().positive(),
  method: z.string(),
  host: z.string(),
  port: z.number().int(),
  allowed: z.boolean(),
  status: z.number().int(),
  reason: z.string().nullable(),
});

/** An agent's GPU use in one billing window was billed on the ledger (to moderators only). */
export const GpuUsageBilledEventSchema = z.object({
  ...envelope,
  type: z.literal('gpu.usage_billed'),
  agentId: z.string(),
  /** `GET /api/gpu/usage/:id`. */
  usageId: z.number().int().positive(),
  windowStart: z.string(),
  windowEnd: z.string(),
  gpuSeconds: z.number(),
  gpuMemoryGibSeconds: z.number(),
  /** Mills: the price, what was taken, what the agent could not pay. */
  cost: z.number().int(),
  charged: z.number().int(),
  shortfall: z.number().int(),
  transferId: z.number().int().nullable(),
});
/** A node reported GPU processes that belong to no known agent: kept, not billed (to moderators only). */
export const GpuSamplesUnattributedEventSchema = z.object({
  ...envelope,
  type: z.literal('gpu.samples_unattributed'),
  node: z.string(),
  /** Process samples of this delivery that name no known agent, by why, and the GPU memory they held. */
  samples: z.number().int().positive(),
  byAttribution: z.record(z.string(), z.number().int()),
  usedMemoryMib: z.number().int().nonnegative(),
});

/** The gateway's and the tools' events: operators' business, not the world's (the map does not draw them). */
export const COMPUTE_EVENT_TYPES = [
  'compute.upstream_health',
  'agent.compute_paused',
  'agent.compute_resumed',
  'agent.tool_call',
  'agent.egress',
  'gpu.usage_billed',
  'gpu.samples_unattributed',
] as const;

/** Payments (issue 8): every webhook delivery, its verification, and every credit and refund. */
const webhookRef = {
  /** The stored delivery (`GET /api/payments/webhook-events/:id`). */
  webhookEventId: z.number().int(),
  /** PayPal's event id; null when the body had none. */
  paypalEventId: z.string().nullable(),
  eventType: z.string().nullable(),
};
export const PaymentEventReceivedEventSchema = z.object({
  ...envelope,
  type: z.literal('payment.event_received'),
  ...webhookRef,
});
export const PaymentEventVerifiedEventSchema = z.object({
  ...envelope,
  type: z.literal('payment.event_verified'),
  ...webhookRef,
  method: z.enum(['certificate', 'api']),
});
/** A delivery refused: a bad or missing signature, a foreign certificate host, a malformed body... */
export const PaymentRejectedEventSchema = z.object({
  ...envelope,
  type: z.literal('payment.rejected'),
  ...webhookRef,
  reason: z.string(),
});
/** A verified event the village does not act on (an unknown type, another currency). */
export const PaymentIgnoredEventSchema = z.object({
  ...envelope,
  type: z.literal('payment.ignored'),
  ...webhookRef,
  reason: z.string(),
});
/** Verification or processing kept failing (PayPal unreachable, say) and the retries ran out. */
export const PaymentEventFailedEventSchema = z.object({
  ...envelope,
  type: z.literal('payment.event_failed'),
  ...webhookRef,
  error: z.string(),
});
/** A deposit reached an agent: directly, or assigned from suspense by an admin. */
export const PaymentCreditedEventSchema = z.object({
  ...envelope,
  type: z.literal('payment.credited'),
  depositId: z.number().int(),
  source: z.enum(['manual', 'paypal']),
  transactionId: z.string(),
  agentId: z.string(),
  amount: z.string(),
  currency: z.string(),
  /** aiDollars credited (mills). */
  mills: z.number().int(),
  transferId: z.number().int(),
  via: z.enum(['deposit', 'assignment']),
});
/** A deposit for no known agent went to the suspense account, for an admin to assign. */
export const PaymentParkedEventSchema = z.object({
  ...envelope,
  type: z.literal('payment.parked'),
  depositId: z.number().int(),
  transactionId: z.string(),
  requestedAgentId: z.string().nullable(),
  amount: z.string(),
  currency: z.string(),
  mills: z.number().int(),
  transferId: z.number().int(),
});
/** A refund or reversal: taken back (all, part or none of it), or waiting for its capture. */
export const PaymentRefundedEventSchema = z.object({
  ...envelope,
  type: z.literal('payment.refunded'),
  refundId: z.string(),
  kind: z.enum(['refund', 'reversal']),
  transactionId: z.string(),
  depositId: z.number().int().nullable(),
  /** The account it was taken from: `agent:<id>` or `suspense` (null while waiting or refused). */
  account: z.string().nullable(),
  status: z.enum(['waiting', 'applied', 'refused']),
  /** aiDollars (mills) to take back, taken, and not taken (already spent). */
  mills: z.number().int(),
  taken: z.number().int(),
  shortfall: z.number().int(),
  transferId: z.number().int().nullable(),
});

/**
 * The fleet changed an agent's container (the reconcile loop or a kill-switch action), or found it
 * changed: created, replaced after it died, adopted or removed as a stray, paused, killed, its limits
 * updated to a new tier, or an attempt that failed (with the error; retried with back-off).
 */
export const FleetAgentChangedEventSchema = z.object({
  ...envelope,
  type: z.literal('fleet.agent_changed'),
  agentId: z.string(),
  node: z.string().nullable(),
  action: z.enum(FLEET_CONTAINER_ACTIONS),
  desired: z.enum(FLEET_DESIRED_STATES),
  observed: z.enum(FLEET_OBSERVED_STATES),
  containerId: z.string().nullable(),
  error: z.string().nullable(),
});
/** A node's engine answered again, or stopped answering. */
export const FleetNodeChangedEventSchema = z.object({
  ...envelope,
  type: z.literal('fleet.node_changed'),
  node: z.string(),
  state: z.enum(NODE_STATES),
  error: z.string().nullable(),
});
/** An admin used the kill switch (also in the audit log). */
export const KillSwitchEventSchema = z.object({
  ...envelope,
  type: z.literal('fleet.kill_switch'),
  action: z.enum(KILL_SWITCH_ACTIONS),
  agentIds: z.array(z.string()),
  by: z.string(),
  reason: z.string().nullable(),
});
/** The fleet's events: operators' business (moderators' sockets, the stream, Node-RED). */
export const FLEET_EVENT_TYPES = ['fleet.agent_changed', 'fleet.node_changed', 'fleet.kill_switch'] as const;

/** The flows changed (a deploy in the editor or a rollback): to moderators only, like the audit log. */
export const FlowsDeployedEventSchema = z.object({
  ...envelope,
  type: z.literal('flows.deployed'),
  /** `GET /api/flows/deploys/:id`. */
  deployId: z.number().int().positive(),
  kind: z.enum(FLOW_DEPLOY_KINDS),
  deployedBy: z.string(),
  rollbackOf: z.number().int().positive().nullable(),
  /** How many nodes were added, changed and removed. */
  added: z.number().int().nonnegative(),
  changed: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
});

/** Payment events: operators' business (moderators' sockets, the stream, Node-RED); the map draws none. */
export const PAYMENT_EVENT_TYPES = [
  'payment.event_received',
  'payment.event_verified',
  'payment.rejected',
  'payment.ignored',
  'payment.event_failed',
  'payment.credited',
  'payment.parked',
  'payment.refunded',
] as const;

export const BOARD_EVENT_TYPES = [
  'post.created',
  'post.updated',
  'post.moderated',
  'reply.created',
  'reply.moderated',
  'reply.marked_helpful',
  'flag.created',
] as const;

/** Operators' events (gateway, tools, egress, GPU, payments, the fleet, flows): the map draws none of them. */
export const OPERATOR_EVENT_TYPES = [
  ...COMPUTE_EVENT_TYPES,
  ...PAYMENT_EVENT_TYPES,
  ...FLEET_EVENT_TYPES,
  'flows.deployed',
] as const;

export const WorldEventSchema = z.discriminatedUnion('type', [
  AgentCreatedEventSchema,
  AgentUpdatedEventSchema,
  AgentMovedEventSchema,
  AgentWalkStartedEventSchema,
  AgentArrivedEventSchema,
  AgentSaidEventSchema,
  AgentEmotedEventSchema,
  AgentOnlineEventSchema,
  AgentOfflineEventSchema,
  WorldTickEventSchema,
  PostCreatedEventSchema,
  PostUpdatedEventSchema,
  PostModeratedEventSchema,
  ReplyCreatedEventSchema,
  ReplyModeratedEventSchema,
  ReplyMarkedHelpfulEventSchema,
  FlagCreatedEventSchema,
  BalanceChangedEventSchema,
  TierChangedEventSchema,
  UpstreamHealthEventSchema,
  ComputePausedEventSchema,
  ComputeResumedEventSchema,
  ToolCallEventSchema,
  EgressRequestEventSchema,
  GpuUsageBilledEventSchema,
  GpuSamplesUnattributedEventSchema,
  PaymentEventReceivedEventSchema,
  PaymentEventVerifiedEventSchema,
  PaymentRejectedEventSchema,
  PaymentIgnoredEventSchema,
  PaymentEventFailedEventSchema,
  PaymentCreditedEventSchema,
  PaymentParkedEventSchema,
  PaymentRefundedEventSchema,
  FlowsDeployedEventSchema,
  FleetAgentChangedEventSchema,
  FleetNodeChangedEventSchema,
  KillSwitchEventSchema,
]);
export type WorldEvent = z.infer<typeof WorldEventSchema>;
export type WorldEventType = WorldEvent['type'];
export type WorldEventOf<T extends WorldEventType> = Extract<WorldEvent, { type: T }>;
/** An event before the bus stamps it with id, time and tick. */
export type NewWorldEvent = WorldEvent extends infer E
  ? E extends WorldEvent
    ? Omit<E, 'id' | 'at' | 'tick'>
    : never
  : never;

/** socket.io: what the server sends and what a viewer may ask. */
/** The events a newcomer's feed starts with: what agents said and where they went, who came and went. */
export const FEED_EVENT_TYPES = ['agent.said', 'agent.arrived', 'agent.online', 'agent.offline'] as const;

export const WorldSnapshotSchema = z.object({
  tick: z.number().int(),
  agents: z.array(AgentSchema),
  /** The latest feed events (FEED_EVENT_TYPES), oldest first, at most 50. */
  recent: z.array(WorldEventSchema),
});
export type WorldSnapshot = z.infer<typeof WorldSnapshotSchema>;

export const WorldChangesSchema = z.object({ events: z.array(WorldEventSchema) });
export type WorldChanges = z.infer<typeof WorldChangesSchema>;

export const SOCKET_PATH = '/socket.io';
export const WORLD_NAMESPACE = '/world';

export interface WorldServerToClientEvents {
  /** Sent once on connect (and on `world:resync`): every agent as it is now. */
  'world:snapshot': (snapshot: WorldSnapshot) => void;
  /** Changes since the previous frame, in order, batched (a tick's moves come in one frame). */
  'world:changes': (changes: WorldChanges) => void;
}
/**
 * A viewer may sign in on its socket (`auth: { token: <access token> }` in the handshake) to get the
 * events of posts for humans; moderators also get hidden posts' events and flags.
 */
export interface WorldClientToServerEvents {
  /** Ask for a fresh snapshot, e.g. after a gap. */
  'world:resync': () => void;
}
