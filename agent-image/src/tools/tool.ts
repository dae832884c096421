// What every tool is: a typed input (zod), limits, and a result the brain can read. A tool never
// throws at its caller: a refusal, a timeout or a crash comes back as `{ ok: false, error }`.
import type { z } from 'zod';
import type { AgentTool } from '@ai-village/control-plane/contract';

export interface ToolResult {
  /** The call did what was asked (a command that exited 0, a page that loaded, an HTTP status below 400). */
  ok: boolean;
  /** What the brain reads: the command's output, the file, the page's text (cut, with a note, when long). */
  output: string;
  /** Why it failed, in one or two plain sentences. */
  error?: string;
  /** A command's exit code, or the HTTP status; null when there was none (killed, never answered). */
  exitCode?: number | null;
  /** The output was cut at the tool's cap. */
  truncated?: boolean;
  /** The directory a command ran in, for the log. */
  cwd?: string;
  /** Tool-specific details (an HTTP answer's status, type, final URL and body). */
  data?: Record<string, unknown>;
}

/** One operator tool: `run` checks nothing about tiers (the runner does) and must not throw. */
export interface Tool<S extends z.ZodType = z.ZodType> {
  readonly name: AgentTool;
  readonly input: S;
  /** The log's `action` for an input: run, read, write, list, GET, open, click... */
  action(input: z.output<S>): string;
  run(input: z.output<S>): Promise<ToolResult>;
  /** Releases what the tool holds (the browser). */
  close?(): Promise<void>;
}

/** A refusal or failure, as a result. */
export function failed(error: string, extra: Partial<ToolResult> = {}): ToolResult {
  return { ok: false, output: '', error, ...extra };
}

/** One line, whatever was thrown: a system error names its code. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const cause = (error.cause as { code?: unknown; message?: unknown } | undefined) ?? undefined;
    const detail = cause?.code ?? cause?.message;
    const text = error.message.split('\n', 1)[0]!;
    return [text, code && !text.includes(String(code)) ? `(${code})` : '', detail ? `(${String(detail)})` : '']
      .filter(Boolean)
      .join(' ');
  }
  return String(error);
}

/** Cuts a text at `max` characters with a note of how much was left out. */
export function capText(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  return {
    text: `${text.slice(0, max)}\n[… cut: ${text.length - max} more characters]`,
    truncated: true,
  };
}
