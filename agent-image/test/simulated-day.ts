// A village day as the scripted brain sees it, loop by loop, with the test playing the world's part
// (shared by the brain's unit tests). The landmarks are the real default map's (perceptions.ts).
import type { Agent, AgentDetails, MailItem } from '@ai-village/control-plane/contract';
import type { Intent, IntentOutcome, Perception } from '../src/brains/brain.js';
import type { ScriptedBrain } from '../src/brains/scripted-brain.js';
import { minuteOfDay } from '../src/brains/village-time.js';
import { ADA_PERSONA, LANDMARKS, agentAt, landmark, neighbours, worldOf } from './perceptions.js';

export interface LoopRecord {
  loop: number;
  minute: number;
  perception: Perception;
  intents: Intent[];
  outcomes: IntentOutcome[];
}

/**
 * The day as the brain sees it, loop by loop: the test plays the world's part in the plainest way.
 * A move to a landmark becomes a walk of one tile per tick (the Manhattan distance) to its entrance,
 * where the agent then stands; a landmark in `unreachable` is refused with 422, as the server
 * refuses a landmark it finds no way to. Says, emotes and board writes always succeed.
 */
export interface Day {
  tick: number;
  self: AgentDetails;
  readonly others: readonly Agent[];
  readonly unreachable: ReadonlySet<string>;
  /** Delivered in the next loop's perception, then emptied. */
  mail: MailItem[];
  /** The loop's penalty tally (`Perception.penalized`): mills taken by penalties so far. */
  penalized: number;
}

export function newDay(options: { unreachable?: string[]; tick?: number } = {}): Day {
  return {
    tick: options.tick ?? 0,
    self: agentAt('town-square', { id: 'ada', displayName: 'Ada', persona: ADA_PERSONA }),
    others: neighbours(),
    unreachable: new Set(options.unreachable ?? []),
    mail: [],
    penalized: 0,
  };
}

/**
 * Drives a brain through a day: perceive, decide, apply, reflect, let time pass. `between` runs
 * after each loop (to put mail in, say).
 */
export function simulate(
  brain: ScriptedBrain,
  day: Day,
  loops: number,
  ticksPerLoop = 5,
  between: (record: LoopRecord) => void = () => undefined,
): LoopRecord[] {
  const records: LoopRecord[] = [];
  for (let loop = 1; loop <= loops; loop++) {
    const perception: Perception = {
      loop,
      self: day.self,
      world: worldOf([day.self, ...day.others], day.tick),
      tick: day.tick,
      memory: [],
      mail: day.mail.splice(0),
      penalized: day.penalized,
    };
    const intents = brain.decide(perception);
    const outcomes = intents.map((intent) => apply(day, intent));
    brain.reflect(perception, outcomes);
    const record = { loop, minute: minuteOfDay(day.tick), perception, intents, outcomes };
    records.push(record);
    advance(day, ticksPerLoop);
    between(record);
  }
  return records;
}

function apply(day: Day, intent: Intent): IntentOutcome {
  if (intent.kind !== 'move') return { intent, status: 'done' };
  if (!('landmark' in intent.to))
    throw new Error(`the scripted brain moved without a landmark: ${JSON.stringify(intent)}`);
  const target = landmark(intent.to.landmark);
  if (day.unreachable.has(target.id)) {
    return { intent, status: 'rejected', httpStatus: 422, message: `no walkable way to ${target.id}` };
  }
  const { x, y } = day.self.position;
  const remaining = Math.abs(target.entrance.x - x) + Math.abs(target.entrance.y - y);
  if (remaining > 0)
    day.self = { ...day.self, walking: { destination: target.entrance, landmark: target.id, remaining } };
  return { intent, status: 'done' };
}

function advance(day: Day, ticks: number): void {
  day.tick += ticks;
  const walk = day.self.walking;
  if (!walk) return;
  const remaining = walk.remaining - ticks;
  day.self =
    remaining > 0
      ? { ...day.self, walking: { ...walk, remaining }, landmark: null }
      : { ...day.self, position: walk.destination, walking: null, landmark: walk.landmark };
}

/** A village day and a bit, from 08:00 to past 10:00 the next morning, 5 village minutes a loop. */
export const A_DAY_AND_A_BIT = (26 * 60) / 5 + 10;

export function movesIn(record: LoopRecord): string[] {
  return record.intents.flatMap((intent) =>
    intent.kind === 'move' && 'landmark' in intent.to ? [intent.to.landmark] : [],
  );
}

export function saysIn(record: LoopRecord): string[] {
  return record.intents.flatMap((intent) => (intent.kind === 'say' ? [intent.text] : []));
}

export function kindOf(landmarkId: string): string {
  return LANDMARKS.find((landmark) => landmark.id === landmarkId)?.kind ?? '?';
}

/** Where the agent arrived: it stands still on the landmark it last walked to. */
export function arrivals(records: LoopRecord[]): { loop: number; minute: number; landmark: string }[] {
  const result: { loop: number; minute: number; landmark: string }[] = [];
  let heading: string | null = null;
  for (const record of records) {
    const { self } = record.perception;
    if (heading && !self.walking && self.landmark === heading) {
      result.push({ loop: record.loop, minute: record.minute, landmark: heading });
      heading = null;
    }
    heading = self.walking?.landmark ?? movesIn(record).at(-1) ?? heading;
  }
  return result;
}
