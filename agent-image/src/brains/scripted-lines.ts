// The scripted brain's phrasebook: a handful of lines per kind of place, filled in with the place's
// name, a topic taken from the persona, another agent's name or the time of day.
import type { Emote } from './brain.js';
import type { Prng } from './prng.js';

/** Kinds of place that have lines of their own; anything else talks like `other`. */
export const PLACE_FAMILIES = [
  'cafe',
  'market',
  'square',
  'park',
  'board',
  'library',
  'workshop',
  'well',
  'pond',
  'home',
  'other',
] as const;
export type PlaceFamily = (typeof PLACE_FAMILIES)[number];

/** The API accepts 500; village speech stays short. Board titles are capped at 200 too. */
export const MAX_SAY_LENGTH = 200;
/** The board takes 20,000; a villager's note is a few lines. */
const MAX_POST_BODY_LENGTH = 600;

const ARRIVALS: Record<PlaceFamily, readonly string[]> = {
  cafe: [
    'A warm cup at {place}. Just what I needed.',
    '{greeting}, {place}! Something fresh, please.',
    'Taking a seat at {place} to think about {topic}.',
    'The smell of coffee at {place} wakes me right up.',
  ],
  market: [
    "Let's see what {place} has today.",
    'Picking up a few things at {place}.',
    'Anyone at {place} know a thing or two about {topic}?',
    'The stalls at {place} are busy this {daypart}.',
  ],
  square: [
    '{greeting}, everyone at {place}! What is new?',
    'Anyone at {place} up for a chat about {topic}?',
    '{place} is lively today.',
    'I came to {place} for a bit of company.',
  ],
  park: [
    'A stroll through {place} does wonders.',
    'Fresh air at {place}. Good for thinking about {topic}.',
    'The trees in {place} look lovely this {daypart}.',
  ],
  board: [
    'Checking the notices on {place}.',
    'Is there anything on {place} about {topic}?',
    'Let me see who needs a hand, according to {place}.',
  ],
  library: [
    'Looking for a good book about {topic} at {place}.',
    'Quiet hours at {place}. My favourite kind.',
    'So much to read at {place}, so little time.',
  ],
  workshop: [
    'Time to tinker at {place}.',
    'Maybe I can build something for {topic} at {place}.',
    'Sawdust and ideas at {place}.',
  ],
  well: [
    'A wish at {place}: more time for {topic}.',
    'The water at {place} is cold and sweet.',
    'People meet at {place} sooner or later.',
  ],
  pond: [
    'Skipping stones at {place}.',
    '{place} is calm this {daypart}. Good for thinking about {topic}.',
    'I wonder what lives at the bottom of {place}.',
  ],
  home: [
    'Home at last. Time to rest.',
    'Back at {place}. A quiet {daypart} ahead.',
    'Kettle on, feet up. Good {daypart}, {place}.',
  ],
  other: ['So this is {place}.', 'Stopping by {place} for a while.', 'Thinking about {topic} here at {place}.'],
};

const AMBIENT: Record<PlaceFamily, readonly string[]> = {
  cafe: [
    'One more sip and I am off.',
    'Still thinking about {topic}.',
    'It is {clock} already? Time flies at {place}.',
  ],
  market: ['Prices look fair at {place} today.', 'I should have brought a bigger basket.'],
  square: [
    'Lovely day on {place}.',
    'Has anyone heard news about {topic}?',
    'It is {clock}; the square is full of voices.',
  ],
  park: ['Listening to the birds in {place}.', 'Still thinking about {topic}.'],
  board: ['I might pin a note about {topic} on {place}.', 'Some interesting requests on {place} today.'],
  library: ['Shh. Reading about {topic}.', 'One more chapter.'],
  workshop: ['Almost got it working.', 'Measure twice, cut once.'],
  well: ['Another coin for {place}.', 'Still thinking about {topic}.'],
  pond: ['Three skips! Not bad.', 'The ducks at {place} have opinions.'],
  home: ['Nothing like my own chair.', 'A quiet moment at {place}.'],
  other: ['Still thinking about {topic}.', 'It is {clock} here at {place}.'],
};

const GREETINGS: readonly string[] = [
  'Hi {name}! Fancy meeting you at {place}.',
  '{greeting}, {name}!',
  '{name}, how is your {daypart} going?',
  'Oh hello {name}, what brings you to {place}?',
];

const DEPARTURES: readonly string[] = ['Off to {place}.', 'Heading over to {place}.', 'Time to visit {place}.'];

const SLEEP_LINES: readonly string[] = ['Good night, village.', 'Lights out at {place}. Sleep well, everyone.'];

const EMOTES: Record<PlaceFamily, readonly Emote[]> = {
  cafe: ['smile', 'laugh'],
  market: ['smile', 'think'],
  square: ['wave', 'cheer', 'laugh'],
  park: ['smile', 'cheer'],
  board: ['think', 'shrug'],
  library: ['think'],
  workshop: ['think', 'cheer'],
  well: ['think', 'smile'],
  pond: ['smile', 'laugh'],
  home: ['smile', 'sleep'],
  other: ['smile', 'shrug'],
};

/** Questions and requests pinned on the town board: a title, a Markdown body and tags. */
const POSTS: readonly { title: string; body: string; tags: readonly string[] }[] = [
  {
    title: 'Where is the best place to watch the sunset?',
    body: 'I have walked all over Willowbrook this {daypart} and still cannot decide. Where do you go when the sky turns orange?',
    tags: ['question', 'sunset'],
  },
  {
    title: 'Could someone tell me which landmark I should visit next?',
    body: 'I keep ending up in the same few places. Name a spot and I will walk over.',
    tags: ['question', 'advice'],
  },
  {
    title: 'Anyone up for a chat about {topic}?',
    body: 'I have been thinking about **{topic}** all {daypart}. Tell me where to find you and I will come by.',
    tags: ['request', 'chat'],
  },
  {
    title: 'Looking for a good book about {topic}',
    body: 'Does anyone know a book about {topic}? Recommendations very welcome.',
    tags: ['question', 'books'],
  },
  {
    title: 'Where do you go to think?',
    body: 'I need a quiet spot to think about {topic}. Where would you send me?',
    tags: ['question', 'advice'],
  },
  {
    title: 'Where should we hold a village picnic?',
    body: 'It would be lovely to get everyone together one of these days. Which place would you pick?',
    tags: ['idea', 'question'],
  },
  {
    title: 'Help wanted: a second pair of hands',
    body: 'I could use some help with a small project about {topic}. Where should we meet?',
    tags: ['request', 'help'],
  },
  {
    title: 'What is your favourite spot in Willowbrook?',
    body: 'Posted from {place} at {clock}. Tell me yours and I might go and see it.',
    tags: ['question'],
  },
];

const PINNING: readonly string[] = [
  'Let me pin a question on {place}.',
  'A note for {place}. Someone will know the answer.',
  'Pinning a little request on {place}.',
];

/** Answers on the board: to a human who asked it to go somewhere, thanks, and a hello back. */
const BOARD_REPLIES = {
  goingThere: [
    'On my way to {place}, {name}!',
    'Good idea, {name}. Heading to {place} now.',
    'See you at {place}, {name}!',
  ],
  alreadyThere: ['I am at {place} right now, {name}! Come and say hello.', 'Already at {place}, {name}. Lovely spot.'],
  thanks: [
    'Thank you, {name}! That is just what I wanted to know.',
    'Thanks, {name}. I will keep that in mind.',
    'How kind of you, {name}. Thank you!',
  ],
  note: [
    'Hello {name}, thanks for thinking of me!',
    'Hi {name}! I read your note. Let us talk about {topic} some time.',
    'Thank you for the note, {name}. See you around the village.',
  ],
  agent: ['Thanks, {name}! See you around the village.', 'Good to hear from you, {name}.'],
} as const satisfies Record<string, readonly string[]>;
export type BoardReplyKind = keyof typeof BOARD_REPLIES;

const SUMMONED_ARRIVALS: readonly string[] = [
  'Here I am at {place}, as {name} asked!',
  '{name} sent me to {place}. Glad I came.',
  'Made it to {place}. Thanks for the tip, {name}!',
];

/** What it says about its aiDollars: after a penalty (a short reflection), after a reward (thanks). */
const STANDING_LINES = {
  penalty: [
    'I lost {amount}. I will think twice before I post again.',
    'A penalty of {amount}. Fair enough: I will keep quieter on the board for a while.',
    'Ouch, {amount} gone. Someone did not like what I did; I will be more careful.',
  ],
  reward: [
    'Thank you for the {amount}! It means a lot.',
    'Someone sent me {amount}. Thank you, kind villager!',
    'A reward of {amount}? Thank you! I will put it to good use.',
  ],
} as const satisfies Record<string, readonly string[]>;
export type StandingLineKind = keyof typeof STANDING_LINES;

const TIER_CHANGE = ' I am in the {tier} tier now.';

const DEFAULT_TOPICS = ['the village', 'the weather', 'what tomorrow brings'];

/**
 * What a persona cares about, for small talk: the phrases after "loves", "enjoys", "interested in"...
 * ("A retired baker who loves sourdough and gossip." gives "sourdough and gossip").
 */
export function personaTopics(persona: string): string[] {
  const pattern =
    /\b(?:loves?|likes?|enjoys?|adores?|collects?|fond of|cares about|interested in|passionate about|obsessed with|dreams? (?:of|about))\s+([^.,;:!?\n]{3,80})/gi;
  const topics: string[] = [];
  for (const match of persona.matchAll(pattern)) {
    const topic = clip(match[1]!.trim().replace(/\s+/g, ' '), 40).replace(/[\s-]+$/, '');
    // "likes to bake" does not fit "a book about {topic}"; a noun phrase does.
    if (/^(?:to|it|that|when|how)\b/i.test(topic) || topics.includes(topic)) continue;
    topics.push(topic);
  }
  return topics.length > 0 ? topics : DEFAULT_TOPICS;
}

export interface LineContext {
  place: string;
  topic: string;
  /** `Good morning` */
  greeting: string;
  /** `morning`, `afternoon`, `evening`, `night` */
  daypart: string;
  /** `18:05` */
  clock: string;
  /** Another agent's display name, for greetings. */
  name?: string;
  /** An amount of money, `5 aiDollars`. */
  amount?: string;
  /** A compute tier's name, `commons`. */
  tier?: string;
}

export function arrivalLine(family: PlaceFamily, context: LineContext, random: Prng): string {
  return render(random.pick(ARRIVALS[family]), context);
}

export function ambientLine(family: PlaceFamily, context: LineContext, random: Prng): string {
  return render(random.pick(AMBIENT[family]), context);
}

export function greetingLine(context: LineContext & { name: string }, random: Prng): string {
  return render(random.pick(GREETINGS), context);
}

export function departureLine(context: LineContext, random: Prng): string {
  return render(random.pick(DEPARTURES), context);
}

export function sleepLine(context: LineContext, random: Prng): string {
  return render(random.pick(SLEEP_LINES), context);
}

/** A question or request for the board (title at most 200 characters, tags of a-z, 0-9 and -). */
export function boardPost(context: LineContext, random: Prng): { title: string; body: string; tags: string[] } {
  const post = random.pick(POSTS);
  return {
    title: render(post.title, context),
    body: render(post.body, context, MAX_POST_BODY_LENGTH),
    tags: [...post.tags],
  };
}

export function pinningLine(context: LineContext, random: Prng): string {
  return render(random.pick(PINNING), context);
}

export function boardReplyLine(kind: BoardReplyKind, context: LineContext & { name: string }, random: Prng): string {
  return render(random.pick(BOARD_REPLIES[kind]), context);
}

/** Arriving where someone on the board asked it to go. */
export function summonedArrivalLine(context: LineContext & { name: string }, random: Prng): string {
  return render(random.pick(SUMMONED_ARRIVALS), context);
}

/** About a penalty or a reward of `{amount}`; with `{tier}` when the tier changed with it. */
export function standingLine(kind: StandingLineKind, context: LineContext & { amount: string }, random: Prng): string {
  const template = random.pick(STANDING_LINES[kind]);
  return render(context.tier === undefined ? template : template + TIER_CHANGE, context);
}

export function placeEmote(family: PlaceFamily, random: Prng): Emote {
  return random.pick(EMOTES[family]);
}

function render(template: string, context: LineContext, max = MAX_SAY_LENGTH): string {
  const text = template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const value = context[key as keyof LineContext];
    return value === undefined ? whole : value;
  });
  return clip(text, max);
}

/** Cuts at a word boundary so that the result is at most `max` characters. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}
