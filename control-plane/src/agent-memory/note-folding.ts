import { MEMORY_LIMITS, type MemoryNote } from '../contract/index.js';

export interface NoteState {
  notes: MemoryNote[];
  digest: string;
  folded: number;
}

/**
 * The one rule for keeping notes small: at most `MEMORY_LIMITS.notes` notes; beyond that the oldest
 * are folded away, each leaving one line (its start, dated) at the end of the digest, and the
 * digest keeps only its newest `digestChars` characters (whole lines). So the agent's notes never
 * grow past a fixed size, yet it knows there was an earlier, like the best peers' capped notes.
 */
export function foldNotes(
  state: NoteState,
  limits: Record<'notes' | 'digestChars' | 'foldedNoteChars', number> = MEMORY_LIMITS,
): NoteState {
  const notes = [...state.notes];
  const lines = state.digest ? state.digest.split('\n') : [];
  let folded = state.folded;
  while (notes.length > limits.notes) {
    const oldest = notes.shift()!;
    lines.push(`${oldest.at.slice(0, 10)}: ${clipLine(oldest.text, limits.foldedNoteChars)}`);
    folded++;
  }
  return { notes, digest: keepNewest(lines, limits.digestChars), folded };
}

function clipLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** The newest lines that fit in `max` characters (a single line longer than that is cut). */
function keepNewest(lines: string[], max: number): string {
  const kept: string[] = [];
  let size = 0;
  for (let index = lines.length - 1; index >= 0; index--) {
    const line = lines[index]!;
    const cost = line.length + (kept.length > 0 ? 1 : 0);
    if (size + cost > max) {
      if (kept.length === 0) kept.unshift(line.slice(line.length - max));
      break;
    }
    kept.unshift(line);
    size += cost;
  }
  return kept.join('\n');
}
