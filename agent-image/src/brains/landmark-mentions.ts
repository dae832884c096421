// Which landmark a message names, so that "could you go to the cafe?" or "meet me at Café Aurora"
// sends the agent there. Plain word matching on the world's own landmarks: full names and ids match
// anywhere, a one-word kind ("cafe", "well") only after an article or a preposition, so that "as well"
// names no well.
import type { Landmark } from '@ai-village/control-plane/contract';

/** Words that, a little before a place, make it the one asked for ("go to", "meet me at"). */
const ASKING = /\b(?:go|goes|going|come|head|walk|run|hurry|meet|visit|see you|stop by|drop by|try|check out)\b/;
/** How far before a place an asking word counts. */
const ASKING_WINDOW = 30;
const BEFORE_A_KIND = '(?:the|to|at|by|in|near|from)';

/** The landmark the text asks for: the first one named after an asking word, else the first one named. */
export function landmarkNamedIn(text: string, landmarks: readonly Landmark[]): Landmark | undefined {
  const plain = normalize(text);
  const found: { landmark: Landmark; index: number }[] = [];
  for (const landmark of landmarks) {
    let first = Infinity;
    for (const pattern of patternsFor(landmark, landmarks)) {
      const match = pattern.exec(plain);
      if (match) first = Math.min(first, match.index + match[0].length - match[1]!.length);
    }
    if (first < Infinity) found.push({ landmark, index: first });
  }
  found.sort((a, b) => a.index - b.index);
  const asked = found.find(({ index }) => ASKING.test(plain.slice(Math.max(0, index - ASKING_WINDOW), index)));
  return (asked ?? found[0])?.landmark;
}

function patternsFor(landmark: Landmark, landmarks: readonly Landmark[]): RegExp[] {
  const name = normalize(landmark.name).split(' ');
  // "Town Bulletin Board" is also "bulletin board"; "Old Stone Well" also "stone well".
  const phrases = new Set([
    normalize(landmark.id),
    ...name.slice(0, -1).map((_, start) => name.slice(start).join(' ')),
  ]);
  phrases.add(name.join(' '));
  const patterns = [...phrases].filter((phrase) => phrase.length >= 3).map((phrase) => wordPattern('', phrase));
  // A kind only one landmark has (the village's six homes share "home").
  const kind = normalize(landmark.kind);
  const sharedKind = landmarks.some((other) => other !== landmark && normalize(other.kind) === kind);
  if (kind.length >= 3 && !sharedKind) patterns.push(wordPattern(`\\b${BEFORE_A_KIND}\\s+`, kind));
  return patterns;
}

/** `prefix` then the phrase as whole words; group 1 is the phrase, so its start can be found. */
function wordPattern(prefix: string, phrase: string): RegExp {
  return new RegExp(`${prefix}\\b(${phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})\\b`);
}

/** Lower case, accents and apostrophes dropped, everything else a single space: "Café Aurora's" → "cafe auroras". */
export function normalize(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’`]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}
