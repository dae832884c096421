// The LLM brain's compact memory: short lines about what it saw, heard, did and was refused, newest
// last, kept under a character budget so that every prompt stays small whatever the agent lived
// through. A line is clipped when written; the same line twice in a row is counted, not repeated;
// and when the budget is full the oldest lines are folded into one summary line at the top (how many
// of each kind, and the last places named), so the model still knows that there was an earlier.
import { clip } from './llm-tools.js';

export const MEMORY_KINDS = ['saw', 'mail', 'did', 'said', 'refused', 'failed', 'note'] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];

export const DEFAULT_MEMORY_CHARS = 2000;
/** The smallest budget that holds a summary and one full line. */
export const MIN_MEMORY_CHARS = 400;
const LINE_CHARS = 160;
/** Places kept in the summary of what was forgotten. */
const SUMMARY_PLACES = 4;

interface MemoryLine {
  kind: MemoryKind;
  text: string;
  repeats: number;
  place?: string;
}

export class LlmMemory {
  readonly budgetChars: number;
  readonly lineChars: number;
  private readonly lines: MemoryLine[] = [];
  private forgotten = 0;
  private readonly forgottenByKind = new Map<MemoryKind, number>();
  private readonly forgottenPlaces: string[] = [];

  constructor(budgetChars = DEFAULT_MEMORY_CHARS) {
    this.budgetChars = Math.max(MIN_MEMORY_CHARS, Math.floor(budgetChars));
    // A summary and the newest line always fit, whatever the budget.
    this.lineChars = Math.min(LINE_CHARS, Math.floor(this.budgetChars / 2) - 2);
  }

  /** Writes one line (clipped); `place` is a landmark's name, remembered in the summary once forgotten. */
  add(kind: MemoryKind, text: string, place?: string): void {
    const clipped = clip(text.trim(), this.lineChars - kind.length - 14);
    const last = this.lines.at(-1);
    if (last && last.kind === kind && last.text === clipped) {
      last.repeats++;
    } else {
      this.lines.push({ kind, text: clipped, repeats: 1, ...(place ? { place } : {}) });
    }
    this.trim();
  }

  /** The lines as the prompt shows them, oldest first (the summary of forgotten ones on top). */
  render(): string[] {
    const summary = this.summary();
    return [...(summary ? [summary] : []), ...this.lines.map(renderLine)];
  }

  /** The memory as one text, at most `budgetChars` long. */
  text(): string {
    return this.render().join('\n');
  }

  /** Lines held (without the summary). */
  get size(): number {
    return this.lines.length;
  }

  private trim(): void {
    let total = this.lines.reduce((sum, line) => sum + renderLine(line).length + 1, 0);
    const budget = () => this.budgetChars - (this.forgotten > 0 || total > this.budgetChars ? this.lineChars + 1 : 0);
    while (this.lines.length > 1 && total > budget()) {
      const oldest = this.lines.shift()!;
      total -= renderLine(oldest).length + 1;
      this.forgotten += oldest.repeats;
      this.forgottenByKind.set(oldest.kind, (this.forgottenByKind.get(oldest.kind) ?? 0) + oldest.repeats);
      if (oldest.place) {
        const at = this.forgottenPlaces.indexOf(oldest.place);
        if (at >= 0) this.forgottenPlaces.splice(at, 1);
        this.forgottenPlaces.push(oldest.place);
        if (this.forgottenPlaces.length > SUMMARY_PLACES) this.forgottenPlaces.shift();
      }
    }
  }

  private summary(): string | undefined {
    if (this.forgotten === 0) return undefined;
    const kinds = MEMORY_KINDS.filter((kind) => this.forgottenByKind.has(kind))
      .map((kind) => `${this.forgottenByKind.get(kind)} ${kind}`)
      .join(', ');
    const places = this.forgottenPlaces.length > 0 ? `; places: ${this.forgottenPlaces.join(', ')}` : '';
    return clip(`earlier: ${this.forgotten} older notes (${kinds})${places}`, this.lineChars);
  }
}

function renderLine(line: MemoryLine): string {
  return `${line.kind}: ${line.text}${line.repeats > 1 ? ` (×${line.repeats})` : ''}`;
}
