// The built-in brain: needs that grow with village time, a day rhythm, and a walk to the place that
// serves the most pressing need; now and then a question pinned on the town board, and answers to its
// mail (board-habit.ts), fetching and summarizing a page when a person asks (fetch-errand.ts); and a sense of its aiDollars and tier, which set how often it posts and
// make it careful after a penalty (standing.ts). Pure and deterministic: its choices follow from its
// seed, the perceptions and the outcomes it is shown, and nothing else (no clock, no Math.random, no I/O).
import type { Agent, Landmark } from '@ai-village/control-plane/contract';
import { BoardHabit, DEFAULT_POST_EVERY_LOOPS } from './board-habit.js';
import type { Brain, Intent, IntentOutcome, Perception } from './brain.js';
import { createPrng, hashString } from './prng.js';
import type { Prng } from './prng.js';
import {
  ambientLine,
  arrivalLine,
  departureLine,
  greetingLine,
  personaTopics,
  pinningLine,
  placeEmote,
  PLACE_FAMILIES,
  sleepLine,
  standingLine,
  summonedArrivalLine,
} from './scripted-lines.js';
import type { LineContext, PlaceFamily } from './scripted-lines.js';
import { aiDollarsText, CAREFUL_POST_INTERVALS, Standing } from './standing.js';
import type { StandingNews } from './standing.js';
import { clockText, dayPart, DEFAULT_VILLAGE_CLOCK, minuteOfDay } from './village-time.js';
import type { DayPart, VillageClock } from './village-time.js';

export const NEEDS = ['hunger', 'social', 'curiosity', 'rest'] as const;
export type Need = (typeof NEEDS)[number];

interface NeedRule {
  /** How much the need grows per village minute (a need runs from 0 to 1, and past 1 when ignored). */
  growthPerMinute: number;
  /** Landmark kinds that serve it, matched against the landmark's kind and id. */
  kinds: readonly string[];
}

const NEED_RULES: Record<Need, NeedRule> = {
  hunger: { growthPerMinute: 1 / 300, kinds: ['cafe', 'market', 'bakery', 'restaurant', 'tavern', 'inn'] },
  social: { growthPerMinute: 1 / 220, kinds: ['square', 'plaza', 'park', 'board', 'well', 'tavern'] },
  curiosity: { growthPerMinute: 1 / 260, kinds: ['library', 'board', 'workshop', 'pond', 'school', 'museum'] },
  // Rest is served by the agent's own home; parks are where the homeless nap.
  rest: { growthPerMinute: 1 / 900, kinds: ['park', 'square'] },
};

const HOME_KINDS = ['home', 'house'];

/** How much one loop at the right place relieves the need. */
const RELIEF_PER_LOOP = 0.25;
/** How many of its own decisions a landmark stays off the list after the server refused a move there. */
const AVOID_FOR_DECISIONS = 60;
/** How often a walk that stopped short is restarted before the target is dropped. */
const MAX_MOVE_ATTEMPTS = 3;
/** Village minutes before the same agent is greeted again. */
const REGREET_AFTER_MINUTES = 180;

type Plan =
  | { mode: 'choosing' }
  | { mode: 'walking'; need: Need; landmark: string; attempts: number }
  | { mode: 'staying'; need: Need; landmark: string; loops: number; minLoops: number };

export interface ScriptedBrainOptions {
  seed: string;
  clock?: VillageClock;
  /** Loops between two posts on the town board, on average (DEFAULT_POST_EVERY_LOOPS); tests make it small. */
  postEveryLoops?: number;
}

export class ScriptedBrain implements Brain {
  readonly kind = 'scripted' as const;

  private readonly random: Prng;
  /** The board's own generator, so that its errands leave the rest of the day's draws as they were. */
  private readonly boardRandom: Prng;
  private readonly board: BoardHabit;
  /** Its balance and tier; its remarks about them draw from their own generator, like the board's. */
  private readonly standing: Standing;
  private readonly standingRandom: Prng;
  private readonly clock: VillageClock;
  private readonly needs: Record<Need, number>;
  private plan: Plan = { mode: 'choosing' };
  private lastTick: number | null = null;
  private decisions = 0;
  private loopsSinceSaid = 0;
  private lastNeed: Need | null = null;
  private lastLandmark: string | null = null;
  private lastSaid: string | null = null;
  private readonly avoidUntil = new Map<string, number>();
  private readonly greetedAtMinute = new Map<string, number>();
  /** The board it is walking to in order to pin a post there. */
  private postAt: string | null = null;
  /** Where someone on the board asked it to go, and who. */
  private summoned: { landmark: string; by: string } | null = null;

  constructor(options: ScriptedBrainOptions) {
    this.random = createPrng(`scripted:${options.seed}`);
    this.boardRandom = createPrng(`board:${options.seed}`);
    this.board = new BoardHabit(this.boardRandom, options.postEveryLoops);
    this.standingRandom = createPrng(`standing:${options.seed}`);
    this.standing = new Standing(CAREFUL_POST_INTERVALS * (options.postEveryLoops ?? DEFAULT_POST_EVERY_LOOPS));
    this.clock = options.clock ?? DEFAULT_VILLAGE_CLOCK;
    // Agents start the day in different moods, so that they do not all walk to the same place.
    this.needs = { hunger: 0, social: 0, curiosity: 0, rest: 0 };
    for (const need of NEEDS) this.needs[need] = 0.1 + this.random.next() * 0.4;
    this.needs.rest = this.random.next() * 0.2;
  }

  /** The need levels now (0 = satisfied, 1 = pressing, up to 2 when ignored), for tests and traces. */
  needLevels(): Readonly<Record<Need, number>> {
    return { ...this.needs };
  }

  decide(perception: Perception): Intent[] {
    this.decisions++;
    this.loopsSinceSaid++;
    this.passTime(perception.tick);
    const news = this.standing.notice(perception.self.economy, this.decisions, perception.penalized);
    // The mail first: answers go out wherever it is, and a place a human asked for comes before any plan.
    const reading = this.board.read(perception, (place) => this.context(perception, place, this.boardRandom));
    const intents = reading.summon ? [this.goWhereAsked(perception, reading.summon)] : this.live(perception);
    const errands = reading.fetch ? [reading.fetch] : [];
    if (!news?.remark) return [...reading.intents, ...errands, ...intents];
    // Its word about the money is this loop's only line.
    return [
      ...reading.intents,
      ...errands,
      this.remark(perception, news),
      ...intents.filter((intent) => intent.kind !== 'say'),
    ];
  }

  /** A short reflection after a penalty, thanks after a reward (the episodic log keeps it too). */
  private remark(perception: Perception, news: StandingNews): Intent {
    const context = {
      ...this.context(perception, undefined, this.standingRandom),
      amount: aiDollarsText(news.amount),
      ...(news.newTier === undefined ? {} : { tier: news.newTier }),
    };
    return this.say(() => standingLine(news.verdict, context, this.standingRandom));
  }

  /** Walking, arriving, staying and choosing where next. */
  private live(perception: Perception): Intent[] {
    const { self } = perception;

    if (self.walking) {
      const heading = self.walking.landmark;
      if (this.plan.mode === 'walking' && heading === this.plan.landmark) return [idle(`walking to ${heading}`)];
      // A walk this brain did not start (a restart, or someone moved the agent): go along with it.
      this.plan = heading
        ? { mode: 'walking', need: this.needServedBy(perception, heading), landmark: heading, attempts: 1 }
        : { mode: 'choosing' };
      return [idle(heading ? `walking to ${heading}` : 'walking')];
    }

    if (this.plan.mode === 'walking') {
      const target = findLandmark(perception, this.plan.landmark);
      if (target && isAt(self, target)) return this.arrive(perception, target, this.plan.need);
      if (!target || this.plan.attempts >= MAX_MOVE_ATTEMPTS) {
        this.avoid(this.plan.landmark);
        this.plan = { mode: 'choosing' };
      } else {
        // The walk stopped short of the target (blocked, or it never started): try again.
        this.plan.attempts++;
        return [{ kind: 'move', to: { landmark: target.id } }];
      }
    }

    if (this.plan.mode === 'staying') {
      const intents = this.stay(perception, this.plan);
      if (this.plan.mode === 'staying') return intents;
      return [...intents, ...this.choose(perception)];
    }
    return this.choose(perception);
  }

  reflect(_perception: Perception, outcomes: readonly IntentOutcome[]): void {
    this.board.reflect(outcomes);
    for (const outcome of outcomes) {
      const { intent } = outcome;
      if (intent.kind === 'say' && outcome.status === 'done') this.loopsSinceSaid = 0;
      if (intent.kind !== 'move' || !('landmark' in intent.to)) continue;
      const target = intent.to.landmark;
      if (outcome.status === 'rejected') {
        // Unreachable or unknown: drop it for a while and pick something else next loop.
        this.avoid(target);
        if (this.plan.mode === 'walking' && this.plan.landmark === target) this.plan = { mode: 'choosing' };
      } else if (
        (outcome.status === 'failed' || outcome.status === 'skipped') &&
        this.plan.mode === 'walking' &&
        this.plan.attempts > 1
      ) {
        // The network's fault, not the target's: this attempt does not count.
        this.plan.attempts--;
      }
    }
  }

  private passTime(tick: number): void {
    const minutes = this.lastTick === null ? 0 : Math.max(0, tick - this.lastTick) * this.clock.minutesPerTick;
    this.lastTick = tick;
    // Asleep, the other needs grow slowly: nobody wakes up starving.
    const night = dayPart(minuteOfDay(tick, this.clock)) === 'night';
    for (const need of NEEDS) {
      const growth = minutes * NEED_RULES[need].growthPerMinute * (night && need !== 'rest' ? 0.3 : 1);
      this.needs[need] = Math.min(2, this.needs[need] + growth);
    }
  }

  private choose(perception: Perception): Intent[] {
    const { self } = perception;
    const board = this.boardErrand(perception);
    if (board) {
      this.postAt = board.id;
      if (isAt(self, board)) return this.arrive(perception, board, 'curiosity');
      this.plan = { mode: 'walking', need: 'curiosity', landmark: board.id, attempts: 1 };
      return [{ kind: 'move', to: { landmark: board.id } }];
    }
    const minute = this.minute(perception);
    const options = NEEDS.map((need) => ({ need, places: this.placesFor(perception, need) })).filter(
      (option) => option.places.length > 0,
    );
    if (options.length === 0) return this.wander();

    let best = options[0]!;
    let bestScore = -Infinity;
    for (const option of options) {
      const score =
        this.urgency(option.need, minute) + this.random.next() * 0.25 - (option.need === this.lastNeed ? 0.2 : 0);
      if (score > bestScore) [best, bestScore] = [option, score];
    }
    const place = this.pickPlace(perception, best.need, best.places, minute);
    this.lastNeed = best.need;
    if (isAt(self, place)) return this.arrive(perception, place, best.need);

    this.plan = { mode: 'walking', need: best.need, landmark: place.id, attempts: 1 };
    const move: Intent = { kind: 'move', to: { landmark: place.id } };
    if (this.random.chance(0.15))
      return [this.say(() => departureLine(this.context(perception, place), this.random)), move];
    return [move];
  }

  private arrive(perception: Perception, place: Landmark, need: Need): Intent[] {
    this.plan = { mode: 'staying', need, landmark: place.id, loops: 0, minLoops: 2 + this.random.int(4) };
    // Penalized (or quarantined) on the way to the board: it keeps its question to itself.
    if (this.postAt === place.id && this.standing.careful(this.decisions)) this.postAt = null;
    if (this.postAt === place.id) {
      this.postAt = null;
      if (this.summoned?.landmark === place.id) this.summoned = null;
      const context = this.context(perception, place, this.boardRandom);
      return [this.say(() => pinningLine(context, this.boardRandom)), this.board.compose(this.decisions, context)];
    }
    const summoned = this.summoned;
    if (summoned?.landmark === place.id) {
      this.summoned = null;
      const context = { ...this.context(perception, place, this.boardRandom), name: summoned.by };
      return [this.say(() => summonedArrivalLine(context, this.boardRandom))];
    }
    const context = this.context(perception, place);
    const family = placeFamily(place);
    const night = dayPart(this.minute(perception)) === 'night';
    const someone = this.someoneToGreet(perception, place);
    let line: () => string;
    if (need === 'rest' && night) line = () => sleepLine(context, this.random);
    else if (someone && this.random.chance(0.6)) line = () => this.greet(perception, someone, context);
    else line = () => arrivalLine(family, context, this.random);
    const intents: Intent[] = [this.say(line)];
    if (this.random.chance(0.25)) intents.push({ kind: 'emote', emote: placeEmote(family, this.random) });
    return intents;
  }

  private stay(perception: Perception, plan: Extract<Plan, { mode: 'staying' }>): Intent[] {
    plan.loops++;
    this.needs[plan.need] = Math.max(0, this.needs[plan.need] - RELIEF_PER_LOOP);
    const place = findLandmark(perception, plan.landmark);
    if (!place) {
      this.plan = { mode: 'choosing' };
      return [];
    }
    const minute = this.minute(perception);
    const part = dayPart(minute);
    const others = othersAt(perception, place);
    if (others.length > 0) this.needs.social = Math.max(0, this.needs.social - 0.05 * others.length);

    if (plan.need === 'rest' && part === 'night') {
      // Asleep until morning.
      this.needs.rest = 0;
      return this.random.chance(0.05) ? [{ kind: 'emote', emote: 'sleep' }] : [idle(`asleep at ${place.id}`)];
    }
    const settledForTheEvening = plan.need === 'rest' && part === 'evening';
    const satisfied = plan.loops >= plan.minLoops && this.needs[plan.need] <= 0.1 && !settledForTheEvening;
    const current = this.urgency(plan.need, minute);
    const pressing = NEEDS.some((need) => need !== plan.need && this.urgency(need, minute) > current + 0.9);
    if ((satisfied || pressing) && !settledForTheEvening) {
      this.lastLandmark = place.id;
      this.plan = { mode: 'choosing' };
      return [];
    }

    const context = this.context(perception, place);
    const family = placeFamily(place);
    const someone = this.someoneToGreet(perception, place);
    if (someone && this.random.chance(0.6)) return [this.say(() => this.greet(perception, someone, context))];
    // Chatty in company, quiet at home.
    if (this.loopsSinceSaid >= 3 && this.random.chance(family === 'home' ? 0.04 : 0.2)) {
      return [this.say(() => ambientLine(family, context, this.random))];
    }
    if (this.random.chance(0.12)) return [{ kind: 'emote', emote: placeEmote(family, this.random) }];
    return [idle(`at ${place.id}`)];
  }

  /** Need level plus what the time of day adds: meals, home in the evening, asleep at night. */
  private urgency(need: Need, minute: number): number {
    const part = dayPart(minute);
    let bonus = 0;
    // Home in the daytime only when really tired.
    if (need === 'rest') bonus = part === 'night' ? 3 : part === 'evening' ? 1.2 : -0.3;
    else if (part === 'night') bonus = -1;
    else if (need === 'hunger' && this.needs.hunger >= 0.25) {
      // Mealtimes pull harder, but not right after a meal.
      if (part === 'morning') bonus = 0.7;
      else if (minute >= 11 * 60 + 30 && minute < 13 * 60 + 30) bonus = 0.4;
      else if (minute >= 18 * 60 && minute < 19 * 60 + 30) bonus = 0.3;
    }
    return this.needs[need] + bonus;
  }

  private placesFor(perception: Perception, need: Need): Landmark[] {
    const open = (landmark: Landmark) => (this.avoidUntil.get(landmark.id) ?? 0) < this.decisions;
    if (need === 'rest') {
      const home = homeOf(perception.self, perception.world.landmarks);
      if (home && open(home)) return [home];
    }
    return perception.world.landmarks.filter(
      (landmark) => open(landmark) && !isHome(landmark) && matches(landmark, NEED_RULES[need].kinds),
    );
  }

  private pickPlace(perception: Perception, need: Need, places: Landmark[], minute: number): Landmark {
    const part: DayPart = dayPart(minute);
    if (need === 'hunger' && part === 'morning') {
      const cafes = places.filter((place) => matches(place, ['cafe', 'bakery']));
      if (cafes.length > 0) places = cafes;
    }
    return this.random.pickWeighted(places, (place) => {
      // Company draws the sociable; the place just left is the last choice.
      let weight = need === 'social' ? 1 + othersAt(perception, place).length : 1;
      if (place.id === this.lastLandmark && places.length > 1) weight *= 0.15;
      // Earlier kinds in a need's list are its natural places (a café before a tavern).
      const rank = NEED_RULES[need].kinds.findIndex((kind) => matches(place, [kind]));
      return rank < 0 ? weight : weight * (1 + 1 / (1 + rank));
    });
  }

  private someoneToGreet(perception: Perception, place: Landmark): Agent | undefined {
    const minute = this.absoluteMinute(perception);
    return othersAt(perception, place).find((other) => {
      const last = this.greetedAtMinute.get(other.id);
      return last === undefined || minute - last >= REGREET_AFTER_MINUTES;
    });
  }

  /** A say intent whose line differs from the last one, if a few draws allow. */
  private say(line: () => string): Intent {
    let text = line();
    for (let tries = 0; tries < 3 && text === this.lastSaid; tries++) text = line();
    this.lastSaid = text;
    return { kind: 'say', text };
  }

  private greet(perception: Perception, other: Agent, context: LineContext): string {
    this.greetedAtMinute.set(other.id, this.absoluteMinute(perception));
    return greetingLine({ ...context, name: other.displayName }, this.random);
  }

  /** A post is due: the town board, in the daytime and when it can be reached; else put off. */
  private boardErrand(perception: Perception): Landmark | undefined {
    // Careful (after a penalty, or quarantined): the post waits, and goes up once that is over.
    if (this.standing.careful(this.decisions)) return undefined;
    if (!this.board.postDue(this.decisions, this.standing.postPace())) return undefined;
    const board = townBoard(perception.world.landmarks);
    const open = board !== undefined && (this.avoidUntil.get(board.id) ?? 0) < this.decisions;
    if (!open || dayPart(this.minute(perception)) !== 'day') {
      this.board.postpone(this.decisions);
      return undefined;
    }
    return board;
  }

  /** A human on the board asked it to go somewhere: it goes at once, whatever it was doing. */
  private goWhereAsked(perception: Perception, summon: { landmark: Landmark; by: string }): Intent {
    const { landmark } = summon;
    this.summoned = { landmark: landmark.id, by: summon.by };
    this.plan = {
      mode: 'walking',
      need: this.needServedBy(perception, landmark.id),
      landmark: landmark.id,
      attempts: 1,
    };
    return { kind: 'move', to: { landmark: landmark.id } };
  }

  /** With no landmark to go to, look around one step at a time. */
  private wander(): Intent[] {
    if (!this.random.chance(0.3)) return [idle('nowhere to go')];
    const [dx, dy] = this.random.pick([
      [1, 0],
      [-1, 0],
      [0, 1],
      [0, -1],
    ] as const);
    return [{ kind: 'move', to: { dx, dy } }];
  }

  private needServedBy(perception: Perception, landmarkId: string): Need {
    const landmark = findLandmark(perception, landmarkId);
    if (!landmark) return 'curiosity';
    if (isHome(landmark)) return 'rest';
    return NEEDS.find((need) => matches(landmark, NEED_RULES[need].kinds)) ?? 'curiosity';
  }

  private avoid(landmarkId: string): void {
    this.avoidUntil.set(landmarkId, this.decisions + AVOID_FOR_DECISIONS);
    if (this.summoned?.landmark === landmarkId) this.summoned = null;
    if (this.postAt === landmarkId) this.postAt = null;
  }

  private minute(perception: Perception): number {
    return minuteOfDay(perception.tick, this.clock);
  }

  private absoluteMinute(perception: Perception): number {
    return perception.tick * this.clock.minutesPerTick;
  }

  private context(perception: Perception, place: Landmark | undefined, random = this.random): LineContext {
    const minute = this.minute(perception);
    const part = dayPart(minute);
    const daypart = part === 'day' ? (minute < 12 * 60 ? 'morning' : 'afternoon') : part;
    return {
      place: place?.name ?? 'the village',
      topic: random.pick(personaTopics(perception.self.persona)),
      greeting: part === 'night' ? 'Good evening' : `Good ${daypart}`,
      daypart,
      clock: clockText(minute),
    };
  }
}

function idle(why: string): Intent {
  return { kind: 'idle', why };
}

/** The town board: `town-board` on the default map, else the first landmark of kind board. */
function townBoard(landmarks: readonly Landmark[]): Landmark | undefined {
  return (
    landmarks.find((landmark) => landmark.id === 'town-board') ??
    landmarks.find((landmark) => matches(landmark, ['board']))
  );
}

function findLandmark(perception: Perception, id: string): Landmark | undefined {
  return perception.world.landmarks.find((landmark) => landmark.id === id);
}

/** Arrived: inside the landmark's area, or on its entrance tile (which may lie just outside it). */
function isAt(self: Agent, landmark: Landmark): boolean {
  if (self.landmark === landmark.id) return true;
  const { x, y } = self.position;
  if (x === landmark.entrance.x && y === landmark.entrance.y) return true;
  const { area } = landmark;
  return x >= area.x && x < area.x + area.width && y >= area.y && y < area.y + area.height;
}

function othersAt(perception: Perception, place: Landmark): Agent[] {
  return perception.world.agents.filter(
    (other) => other.id !== perception.self.id && other.status.online && other.landmark === place.id,
  );
}

function matches(landmark: Landmark, kinds: readonly string[]): boolean {
  const kind = landmark.kind.toLowerCase();
  const id = landmark.id.toLowerCase();
  return kinds.some((wanted) => kind === wanted || kind.includes(wanted) || id.includes(wanted));
}

function isHome(landmark: Landmark): boolean {
  return matches(landmark, HOME_KINDS);
}

function placeFamily(landmark: Landmark): PlaceFamily {
  if (isHome(landmark)) return 'home';
  return PLACE_FAMILIES.find((family) => family !== 'other' && matches(landmark, [family])) ?? 'other';
}

/**
 * The agent's own home: one whose name or id carries the agent's display name or id (`home-ada`,
 * "Ada's Cottage"); otherwise one picked by hashing the agent id, so it is the same one every run.
 */
export function homeOf(self: Agent, landmarks: readonly Landmark[]): Landmark | undefined {
  const homes = landmarks.filter(isHome).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (homes.length === 0) return undefined;
  const firstName = self.displayName.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  const named = homes.find((home) => {
    const words = `${home.id} ${home.name}`.toLowerCase().split(/[^a-z0-9]+/);
    return (
      words.includes(self.id.toLowerCase()) ||
      (firstName.length >= 2 && words.some((word) => word === firstName || word === `${firstName}s`))
    );
  });
  return named ?? homes[hashString(self.id) % homes.length];
}
