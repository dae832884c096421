#!/usr/bin/env node
// Exports the village's event stream (Redis `<prefix>events`, the newest ~100,000 events) as JSON lines, and
// replays an export: every agent's position and version as of a tick, from agent.created, agent.moved and
// agent.walk_started alone, to compare with what the database says (docs/REPRODUCIBILITY.md).
//
//   REDIS_URL=redis://127.0.0.1:6379 node deploy/scripts/village-events.mjs export [--prefix village:] > run.jsonl
//   node deploy/scripts/village-events.mjs replay run.jsonl [--until-tick N]    # JSON: { tick, agents: {id: {x, y, version}} }
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';

const [command, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const index = rest.indexOf(name);
  return index >= 0 ? rest[index + 1] : fallback;
};

async function exportStream() {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  const key = `${option('--prefix', process.env.VILLAGE_REDIS_PREFIX ?? 'village:')}events`;
  let from = '-';
  let count = 0;
  try {
    for (;;) {
      const entries = await redis.xrange(key, from, '+', 'COUNT', 1000);
      for (const [id, fields] of entries) {
        const event = fields[fields.indexOf('event') + 1];
        process.stdout.write(`${JSON.stringify({ streamId: id, ...JSON.parse(event) })}\n`);
        count++;
      }
      if (entries.length < 1000) break;
      from = `(${entries.at(-1)[0]}`;
    }
  } finally {
    redis.disconnect();
  }
  process.stderr.write(`exported ${count} events from ${key}\n`);
}

async function replay(file) {
  const until = Number(option('--until-tick', Infinity));
  const agents = {};
  let tick = 0;
  for await (const line of createInterface({ input: createReadStream(file) })) {
    if (!line.trim()) continue;
    const event = JSON.parse(line);
    if (event.tick > until) break;
    tick = Math.max(tick, event.tick);
    if (event.type === 'agent.created') {
      agents[event.agent.id] = { x: event.agent.position.x, y: event.agent.position.y, version: event.agent.version };
    } else if (event.type === 'agent.moved') {
      // Frames can arrive out of order across replicas; the version says which is newer.
      const known = agents[event.agentId];
      if (!known || event.version > known.version) {
        agents[event.agentId] = { x: event.position.x, y: event.position.y, version: event.version };
      }
    }
  }
  process.stdout.write(`${JSON.stringify({ tick, agents }, null, 2)}\n`);
}

if (command === 'export') await exportStream();
else if (command === 'replay' && rest[0]) await replay(rest[0]);
else {
  process.stderr.write('usage: village-events.mjs export [--prefix P] | replay <file.jsonl> [--until-tick N]\n');
  process.exit(2);
}
