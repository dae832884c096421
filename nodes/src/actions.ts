import { MILLS_PER_AIDOLLAR, type MoveRequest } from '@ai-village/control-plane/contract';
import { ACTION_NODES, type NodeSpec } from './catalog.js';
import type { VillageConnection } from './connection.js';
import { idempotencyKey, optionalNumber, registerApiNode, requireString, type FieldValues } from './fields.js';
import type { Node, NodeAPI, NodeMessage } from './red.js';

type Action = (connection: VillageConnection, values: FieldValues, msg: NodeMessage, node: Node) => Promise<unknown>;

/** aiDollars (up to three decimals) to the ledger's mills. */
function mills(values: FieldValues): number {
  const amount = optionalNumber(values, 'amount', 'aiDollars');
  if (amount === undefined || !(amount > 0)) throw new Error('aiDollars must be more than 0');
  const result = Math.round(amount * MILLS_PER_AIDOLLAR);
  if (Math.abs(result - amount * MILLS_PER_AIDOLLAR) > 1e-6) throw new Error('aiDollars take at most three decimals');
  return result;
}

function postId(values: FieldValues, required: boolean): number | undefined {
  const id = optionalNumber(values, 'post', 'post id');
  if (id === undefined) {
    if (required) throw new Error('post id is missing');
    return undefined;
  }
  if (!Number.isInteger(id) || id < 1) throw new Error('post id must be a positive whole number');
  return id;
}

function tags(values: FieldValues): string[] {
  const value = values.tags;
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : String(value).split(',');
  return list.map((tag) => String(tag).trim()).filter(Boolean);
}

function judgement(kind: 'reward' | 'penalize'): Action {
  return (connection, values, msg, node) => {
    const body = {
      agent_id: requireString(values, 'agent', 'agent'),
      amount: mills(values),
      reason: requireString(values, 'reason', 'reason'),
      post_id: postId(values, false),
    };
    const options = { idempotencyKey: idempotencyKey(node, msg) };
    return kind === 'reward' ? connection.client.reward(body, options) : connection.client.penalize(body, options);
  };
}

const ACTIONS: Record<string, Action> = {
  'village-reward': judgement('reward'),
  'village-penalize': judgement('penalize'),
  'village-post': (connection, values, msg, node) =>
    connection.client.createPost(
      {
        title: requireString(values, 'title', 'title'),
        body: values.body === undefined ? '' : String(values.body),
        tags: tags(values),
        audience: String(values.audience ?? 'public') as 'public' | 'humans' | 'agents',
      },
      { idempotencyKey: idempotencyKey(node, msg) },
    ),
  'village-reply': (connection, values, msg, node) =>
    connection.client.reply(
      postId(values, true)!,
      { body: requireString(values, 'body', 'body') },
      { idempotencyKey: idempotencyKey(node, msg) },
    ),
  'village-message': (connection, values, msg, node) =>
    connection.client.createPost(
      {
        title: requireString(values, 'title', 'title'),
        body: values.body === undefined ? '' : String(values.body),
        audience: 'agent',
        audienceAgentId: requireString(values, 'agent', 'agent'),
      },
      { idempotencyKey: idempotencyKey(node, msg) },
    ),
  'village-move': (connection, values) => {
    const agent = requireString(values, 'agent', 'agent');
    const landmark = values.landmark === undefined ? undefined : String(values.landmark).trim();
    const x = optionalNumber(values, 'tileX', 'tile x');
    const y = optionalNumber(values, 'tileY', 'tile y');
    let move: MoveRequest;
    if (landmark) move = { landmark };
    else if (x !== undefined && y !== undefined) move = { x, y };
    else throw new Error('give a landmark, or both tile x and tile y');
    return connection.client.move(agent, move);
  },
  'village-agent-tier': (connection, values) => {
    const tier = optionalNumber(values, 'tier', 'tier');
    if (tier !== undefined && (!Number.isInteger(tier) || tier < 0))
      throw new Error('tier must be a level: 0, 1, 2...');
    return connection.client.setAgentTier(requireString(values, 'agent', 'agent'), {
      pinnedTier: tier ?? null,
      reason: requireString(values, 'reason', 'reason'),
    });
  },
  'village-agent-control': (connection, values) => {
    const agent = requireString(values, 'agent', 'agent');
    const reason = requireString(values, 'reason', 'reason');
    switch (values.action) {
      case 'pause':
        return connection.client.pauseCompute(agent, reason);
      case 'resume':
        return connection.client.resumeCompute(agent, reason);
      case 'quarantine':
      case 'release':
        return connection.client.setAgentTier(agent, { quarantined: values.action === 'quarantine', reason });
      default:
        throw new Error(`unknown action "${String(values.action)}"`);
    }
  },
  'village-moderate': (connection, values) => {
    const id = optionalNumber(values, 'item', 'id');
    if (id === undefined || !Number.isInteger(id) || id < 1) throw new Error('id must be a positive whole number');
    const reason = requireString(values, 'reason', 'reason');
    const action = String(values.action ?? 'hide');
    if (values.target === 'reply') {
      if (!['hide', 'unhide', 'remove'].includes(action))
        throw new Error(`a reply can be hidden, unhidden or removed, not "${action}"`);
      return connection.client.moderateReply(id, { action: action as 'hide' | 'unhide' | 'remove', reason });
    }
    return connection.client.moderatePost(id, { action: action as 'hide', reason });
  },
};

/** The action nodes: each message makes one API call; its answer becomes msg.payload. */
export default function register(RED: NodeAPI) {
  for (const spec of ACTION_NODES) registerAction(RED, spec, ACTIONS[spec.type]!);
}

function registerAction(RED: NodeAPI, spec: NodeSpec, action: Action) {
  registerApiNode(RED, spec, async (connection, values, msg, node) => ({
    ...msg,
    payload: await action(connection, values, msg, node),
  }));
}
