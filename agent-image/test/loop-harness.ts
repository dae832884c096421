// What the loop tests share: the real loop run until a condition holds, a Brain that does what the
// test says and writes down what it was given, the real client with its requests written down, and
// the log and the waits captured.
import { setTimeout as delay } from 'node:timers/promises';
import { VillageClient } from '@ai-village/control-plane/contract';
import type { Position } from '@ai-village/control-plane/contract';
import { runAgent } from '../src/agent-loop.js';
import type { AgentRunSummary, RunAgentOptions } from '../src/agent-loop.js';
import type { Brain, Intent, IntentOutcome, Perception } from '../src/brains/brain.js';
import type { AgentConfig } from '../src/config.js';
import { StructuredLog } from '../src/structured-log.js';
import { eventually } from './control-plane-process.js';

export interface LogLine {
  level: string;
  agent: string;
  phase: string;
  message?: string;
  intent?: string;
  text?: string;
  status?: number;
  retryInMs?: number;
  fatal?: boolean;
  recovered?: boolean;
  failures?: number;
}

export function capturedLog(agent: string) {
  const out: LogLine[] = [];
  const err: LogLine[] = [];
  const sink = (lines: LogLine[]) => ({ write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  return { log: new StructuredLog({ agent, stdout: sink(out), stderr: sink(err) }), out, err };
}

/** A brain that does what the test says and writes down what it was given. */
export class RecordingBrain implements Brain {
  readonly kind = 'scripted' as const;
  readonly decided: { perception: Perception; intents: Intent[] }[] = [];
  readonly reflected: { perception: Perception; outcomes: readonly IntentOutcome[] }[] = [];

  constructor(
    private readonly plan: (perception: Perception) => Intent[] | Promise<Intent[]>,
    private readonly options: { timeline?: string[]; stopAfter?: { loops: number; controller: AbortController } } = {},
  ) {}

  async decide(perception: Perception): Promise<Intent[]> {
    this.options.timeline?.push('decide');
    const intents = await this.plan(perception);
    this.decided.push({ perception, intents });
    return intents;
  }

  reflect(perception: Perception, outcomes: readonly IntentOutcome[]): void {
    this.options.timeline?.push('reflect');
    this.reflected.push({ perception, outcomes });
    const stop = this.options.stopAfter;
    if (stop && this.reflected.length >= stop.loops) stop.controller.abort();
  }

  outcomes(): IntentOutcome[] {
    return this.reflected.flatMap((entry) => entry.outcomes);
  }
}

/** One request the runtime made and the server's answer. */
export interface Exchange {
  method: string;
  /** Path and query: `/api/agents/ada/mail?cursor=12`. */
  url: string;
  status: number;
  body: unknown;
}

/**
 * The real client over the real fetch, with every request written into `timeline` (`GET /api/world`)
 * and, if given, every request and answer into `exchanges`.
 */
export function tappedClient(config: AgentConfig, timeline: string[], exchanges?: Exchange[]): VillageClient {
  return new VillageClient({
    baseUrl: config.villageUrl,
    token: config.agentToken,
    fetch: async (input, init) => {
      const method = init?.method ?? 'GET';
      const url = new URL(input instanceof Request ? input.url : input);
      timeline.push(`${method} ${url.pathname}`);
      const response = await fetch(input, init);
      if (exchanges) {
        const body: unknown = await response
          .clone()
          .json()
          .catch(() => undefined);
        exchanges.push({ method, url: `${url.pathname}${url.search}`, status: response.status, body });
      }
      return response;
    },
  });
}

/** Real waits, each one written down. */
export function recordedSleeps() {
  const sleeps: number[] = [];
  const sleep = async (ms: number, signal: AbortSignal) => {
    sleeps.push(ms);
    await delay(ms, undefined, { signal }).catch((error: unknown) => {
      if (!signal.aborted) throw error;
    });
  };
  return { sleeps, sleep };
}

/**
 * Runs the loop until `controller` aborts, `until` holds or the run ends, whichever comes first; a run
 * still going after `timeoutMs` is stopped and fails the test.
 */
export async function runUntil(
  config: AgentConfig,
  options: Omit<RunAgentOptions, 'signal'>,
  {
    controller = new AbortController(),
    until = () => false,
    what,
    timeoutMs = 10_000,
  }: {
    controller?: AbortController;
    until?: () => boolean | Promise<boolean>;
    what: string;
    timeoutMs?: number;
  },
): Promise<AgentRunSummary> {
  const run = runAgent(config, { ...options, signal: controller.signal });
  let ended = false;
  run.then(
    () => (ended = true),
    () => (ended = true),
  );
  try {
    await eventually(async () => ended || controller.signal.aborted || (await until()), what, timeoutMs);
  } catch (error) {
    controller.abort();
    await run.catch(() => undefined);
    throw error;
  }
  controller.abort();
  return run;
}

export const samePlace = (a: Position, b: Position) => a.x === b.x && a.y === b.y;
