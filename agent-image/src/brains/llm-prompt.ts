// What the LLM brain tells the model: a system message (who the agent is, from its persona, and the
// village's landmarks, which `move_to` names) and one user message a turn (where it is, who is near,
// its purse, new mail, and its compact memory). Two messages, rebuilt each turn: no growing chat
// history, so the prompt stays about the same size for the agent's whole life.
import { formatAiDollars } from '@ai-village/control-plane/contract';
import type { Agent, Landmark, MailItem, World } from '@ai-village/control-plane/contract';
import type { Perception } from './brain.js';
import { clip, MAX_TOOL_CALLS_PER_LOOP } from './llm-tools.js';
import { clockText, dayPart, DEFAULT_VILLAGE_CLOCK, minuteOfDay } from './village-time.js';
import type { VillageClock } from './village-time.js';

/** Landmarks listed in the system message; a bigger map lists the first ones (move_to still takes any id). */
export const PROMPT_LANDMARKS = 60;
const PERSONA_CHARS = 1200;
/** Mail items shown in full in one turn; the rest are counted. */
export const PROMPT_MAIL_ITEMS = 5;
const MAIL_TEXT_CHARS = 300;
const OTHERS_LISTED = 10;

export function systemPrompt(self: Agent, world: World, tools: readonly string[] = []): string {
  const persona = self.persona.trim() ? clip(self.persona.trim(), PERSONA_CHARS) : 'a friendly villager';
  const landmarks = world.landmarks.slice(0, PROMPT_LANDMARKS).map(landmarkLine);
  const more = world.landmarks.length - landmarks.length;
  return [
    `You are ${self.displayName} (id "${self.id}"), who lives in ${world.name}, a village of agents and people.`,
    `Who you are: ${persona}`,
    '',
    `You act only by calling the tools. Each turn, call one to ${MAX_TOOL_CALLS_PER_LOOP} of them.`,
    '- Stay in character. Say things briefly (one or two sentences) and do not repeat yourself.',
    '- Answer the people who write to you (your mail) with reply, using the post id shown.',
    '- Go to places with move_to and a landmark id; while you are walking, usually call idle.',
    '- Post on the town board only now and then, when you have a real question or news.',
    '- Lines starting with "refused:" in your memory are actions the village did not accept: do something else.',
    '- When nothing needs doing, call idle.',
    ...(tools.length > 0
      ? [
          `- You have your own computer, and your tier lets you use: ${tools.join(', ')}. Use them for real work (say, to fetch a page someone asks about, and cite its link); their results come in your next turn.`,
        ]
      : []),
    '',
    'Landmarks (id: name, kind):',
    ...landmarks,
    ...(more > 0 ? [`(and ${more} more)`] : []),
  ].join('\n');
}

function landmarkLine(landmark: Landmark): string {
  return `${landmark.id}: ${clip(landmark.name, 60)} (${clip(landmark.kind, 30)})`;
}

/** This turn's situation, new mail and memory. */
export function turnPrompt(
  perception: Perception,
  mail: readonly MailItem[],
  memory: readonly string[],
  toolResults: readonly string[] = [],
  clock: VillageClock = DEFAULT_VILLAGE_CLOCK,
): string {
  const { self, world } = perception;
  const minute = minuteOfDay(perception.tick, clock);
  const lines = [`Village time ${clockText(minute)} (${dayPart(minute)}).`, whereLine(perception)];

  const others = world.agents.filter((agent) => agent.id !== self.id && agent.status.online);
  const here = self.landmark ? others.filter((agent) => agent.landmark === self.landmark) : [];
  if (here.length > 0) lines.push(`Here with you: ${here.map((agent) => agent.displayName).join(', ')}.`);
  const elsewhere = others.filter((agent) => !here.includes(agent));
  if (elsewhere.length > 0) {
    const listed = elsewhere.slice(0, OTHERS_LISTED).map((agent) => `${agent.displayName} (${placeOf(agent, world)})`);
    const more = elsewhere.length - listed.length;
    lines.push(`Others in the village: ${listed.join(', ')}${more > 0 ? ` and ${more} more` : ''}.`);
  }

  const { economy } = self;
  lines.push(
    `Your purse: ${formatAiDollars(economy.available)} aiDollars available (balance ${formatAiDollars(economy.balance)}), tier ${economy.tier.name}.`,
  );

  if (mail.length > 0) {
    lines.push('', 'New mail (answer with reply and the post id):');
    for (const item of mail.slice(-PROMPT_MAIL_ITEMS)) lines.push(`- ${mailLine(item, self.id, MAIL_TEXT_CHARS)}`);
    if (mail.length > PROMPT_MAIL_ITEMS) lines.push(`(and ${mail.length - PROMPT_MAIL_ITEMS} older items, in memory)`);
  }

  if (toolResults.length > 0)
    lines.push('', 'Results of your last tool calls:', ...toolResults.map((text) => `- ${text}`));

  lines.push('', 'Your memory, oldest first:', ...(memory.length > 0 ? memory : ['(nothing yet)']));
  lines.push('', 'What do you do now? Call the tools.');
  return lines.join('\n');
}

function whereLine({ self, world }: Perception): string {
  const at = self.landmark ? world.landmarks.find((landmark) => landmark.id === self.landmark) : undefined;
  const place = at ? `at ${at.name} [${at.id}]` : 'on the road';
  const tile = `tile ${self.position.x},${self.position.y}`;
  if (!self.walking) return `You are ${place}, ${tile}.`;
  const to = self.walking.landmark ?? `${self.walking.destination.x},${self.walking.destination.y}`;
  return `You are ${place}, ${tile}, walking to ${to} (${self.walking.remaining} tiles left).`;
}

function placeOf(agent: Agent, world: World): string {
  if (agent.walking) return 'walking';
  const at = agent.landmark ? world.landmarks.find((landmark) => landmark.id === agent.landmark) : undefined;
  return at ? at.id : 'out and about';
}

/** `post #12 "Sunset?" by Hanna (human), reply #40: "could you go to the cafe?"` */
export function mailLine(item: MailItem, selfId: string, textChars: number): string {
  const { post, reply } = item;
  const title = `post #${post.id} "${clip(post.title, 80)}"`;
  if (reply) {
    const whose = post.author.id === selfId ? 'your ' : '';
    return `${whose}${title}: ${reply.author.name} (${reply.author.type}) replied: "${clip(reply.body, textChars)}"`;
  }
  const why = item.reasons.includes('addressed') ? 'to you' : 'mentions you';
  return `${title} ${why}, by ${post.author.name} (${post.author.type}): "${clip(post.body, textChars)}"`;
}
