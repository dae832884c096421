import {
  DEFAULT_VILLAGE_CLOCK,
  villageClockText,
  villageMinuteOfDay,
  type WorldEvent,
  type WorldEventType,
} from '@ai-village/control-plane/contract';
import { EVENT_NODES } from './catalog.js';
import type { VillageConnection } from './connection.js';
import type { Node, NodeAPI, NodeConfig, NodeMessage } from './red.js';

type Matcher = (event: WorldEvent, config: NodeConfig) => boolean;

const text = (config: NodeConfig, name: string) => String(config[name] ?? '').trim();
const agentMatches = (agentId: string | undefined, config: NodeConfig) =>
  !text(config, 'agent') || agentId === text(config, 'agent');

/** Which events start each event node, and its filters. */
const MATCHERS: Record<string, { types: WorldEventType[]; matches: Matcher }> = {
  'village-post-created': {
    types: ['post.created'],
    matches: (event, config) =>
      event.type === 'post.created' &&
      (!text(config, 'tag') || event.post.tags.includes(text(config, 'tag').toLowerCase())) &&
      (!text(config, 'agent') ||
        (event.post.author.type === 'agent' && event.post.author.id === text(config, 'agent'))),
  },
  'village-reply-created': {
    types: ['reply.created'],
    matches: (event, config) =>
      event.type === 'reply.created' &&
      (!text(config, 'agent') ||
        (event.reply.author.type === 'agent' && event.reply.author.id === text(config, 'agent'))),
  },
  'village-reply-helpful': {
    types: ['reply.marked_helpful'],
    matches: (event, config) =>
      event.type === 'reply.marked_helpful' &&
      (!text(config, 'agent') ||
        (event.reply.author.type === 'agent' && event.reply.author.id === text(config, 'agent'))),
  },
  'village-post-flagged': {
    types: ['flag.created'],
    matches: (event, config) => {
      if (event.type !== 'flag.created') return false;
      const target = text(config, 'target') || 'posts';
      return target === 'both' || (target === 'posts') === (event.flag.replyId === null);
    },
  },
  'village-judgement': {
    types: ['economy.balance_changed'],
    matches: (event, config) => {
      if (event.type !== 'economy.balance_changed') return false;
      const which = text(config, 'judgement') || 'both';
      const judged = event.reason === 'reward' || event.reason === 'penalty';
      return judged && (which === 'both' || which === event.reason) && agentMatches(event.agentId, config);
    },
  },
  'village-balance-changed': {
    types: ['economy.balance_changed', 'agent.tier_changed'],
    matches: (event, config) => {
      const which = text(config, 'which') || 'both';
      if (event.type === 'economy.balance_changed' && which === 'tier') return false;
      if (event.type === 'agent.tier_changed' && which === 'balance') return false;
      return (
        (event.type === 'economy.balance_changed' || event.type === 'agent.tier_changed') &&
        agentMatches(event.agentId, config)
      );
    },
  },
  'village-agent-arrived': {
    types: ['agent.arrived'],
    matches: (event, config) =>
      event.type === 'agent.arrived' &&
      (!text(config, 'landmark') || event.landmark === text(config, 'landmark')) &&
      agentMatches(event.agentId, config),
  },
  'village-agent-said': {
    types: ['agent.said'],
    matches: (event, config) =>
      event.type === 'agent.said' &&
      event.text.toLowerCase().includes(text(config, 'contains').toLowerCase()) &&
      agentMatches(event.agentId, config),
  },
  'village-tool-call': {
    types: ['agent.tool_call'],
    matches: (event, config) =>
      event.type === 'agent.tool_call' &&
      (!text(config, 'tool') || event.tool === text(config, 'tool')) &&
      (!config.failedOnly || !event.ok) &&
      agentMatches(event.agentId, config),
  },
  'village-payment-credited': {
    types: ['payment.credited'],
    matches: (event, config) => event.type === 'payment.credited' && agentMatches(event.agentId, config),
  },
  'village-clock': { types: ['world.tick'], matches: (event) => event.type === 'world.tick' },
};

/**
 * The event nodes: each listens on its connection's event stream (socket.io `/world`) and sends one
 * message per matching event. The clock node turns ticks into village time.
 */
export default function register(RED: NodeAPI) {
  for (const spec of EVENT_NODES) {
    const matcher = MATCHERS[spec.type]!;
    const types = new Set<string>(matcher.types);
    RED.nodes.registerType(spec.type, function (this: Node, config: NodeConfig) {
      RED.nodes.createNode(this, config);
      // Node-RED calls node constructors with the new node as `this`; the closures below need it.
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const node = this;
      const connection = RED.nodes.getNode(String(config.connection ?? '')) as VillageConnection | null;
      if (!connection) {
        node.status({ fill: 'red', shape: 'ring', text: 'no connection' });
        node.error('no village connection: choose one in the node\u2019s settings');
        return;
      }
      const clock = spec.type === 'village-clock' ? clockOf(config) : undefined;
      if (clock instanceof Error) {
        node.status({ fill: 'red', shape: 'ring', text: clock.message });
        node.error(clock.message);
        return;
      }
      const unsubscribe = connection.subscribe(
        (event) => {
          if (!types.has(event.type) || !matcher.matches(event, config)) return;
          if (clock) {
            const payload = clock.fire(event.tick);
            if (payload) node.send({ topic: 'village.clock', payload, event });
            return;
          }
          const message: NodeMessage = { topic: event.type, payload: event, event };
          node.send(message);
        },
        (state, detail) =>
          node.status(
            state === 'connected'
              ? { fill: 'green', shape: 'dot', text: 'connected' }
              : state === 'connecting'
                ? { fill: 'yellow', shape: 'ring', text: 'connecting' }
                : { fill: 'red', shape: 'ring', text: detail ?? 'disconnected' },
          ),
      );
      node.on('close', (_removed, done) => {
        unsubscribe();
        done();
      });
    });
  }
}

interface Clock {
  fire(tick: number): { tick: number; minute: number; time: string } | undefined;
}

/** The clock node's rule: fire when the village time reaches the configured time (or period). */
export function clockOf(config: NodeConfig): Clock | Error {
  const mode = text(config, 'mode') || 'at';
  const minutesPerTick = Number(text(config, 'minutesPerTick') || DEFAULT_VILLAGE_CLOCK.minutesPerTick);
  if (!(minutesPerTick > 0)) return new Error('minutes per tick must be a positive number');
  const village = { ...DEFAULT_VILLAGE_CLOCK, minutesPerTick };
  let target = 0;
  if (mode === 'at') {
    const match = /^(\d{1,2}):(\d{2})$/.exec(text(config, 'time'));
    if (!match || Number(match[1]) > 23 || Number(match[2]) > 59) return new Error('time must be HH:MM');
    target = Number(match[1]) * 60 + Number(match[2]);
  } else if (mode === 'every') {
    target = Number(text(config, 'minutes') || 60);
    if (!Number.isInteger(target) || target < 1) return new Error('every: a whole number of village minutes');
  }
  let previous: number | undefined;
  return {
    fire(tick) {
      const minute = villageMinuteOfDay(tick, village);
      const payload = { tick, minute, time: villageClockText(minute) };
      // Village minutes since the day began, counting across midnight, so no firing is missed.
      const elapsedBefore = previous === undefined ? undefined : Math.floor(previous * minutesPerTick);
      const elapsedNow = Math.floor(tick * minutesPerTick);
      previous = tick;
      if (mode === 'tick') return payload;
      if (elapsedBefore === undefined || elapsedNow <= elapsedBefore) return undefined;
      const start = village.minuteAtTickZero;
      // After a long gap (Node-RED stopped), a day's worth is enough to find the time once.
      for (let elapsed = Math.max(elapsedBefore + 1, elapsedNow - 1439); elapsed <= elapsedNow; elapsed++) {
        const reached = (((start + elapsed) % 1440) + 1440) % 1440;
        if (mode === 'at' ? reached === target : (start + elapsed) % target === 0) return payload;
      }
      return undefined;
    },
  };
}
