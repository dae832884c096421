// Runs the brain's tool calls under the agent's tier: only the tools its entitlements list, at most
// `concurrentToolRuns` at once (more is refused, not queued), each input checked against its tool's
// schema. Every call, refused ones included, is reported to the tool-call log. Never throws.
import { randomUUID } from 'node:crypto';
import {
  AGENT_TOOLS,
  redactToolArguments,
  TOOL_LOG_LIMITS,
  type AgentTool,
  type Entitlements,
  type ToolCallReport,
} from '@ai-village/control-plane/contract';
import { failed, type Tool, type ToolResult } from './tool.js';

/** What a brain asks for: a tool by name and its input (checked here). */
export interface ToolCallRequest {
  tool: string;
  input: unknown;
}

export interface ToolRun extends ToolResult {
  /** The id the call is logged under. */
  callId: string;
  tool: string;
  action: string;
  durationMs: number;
}

export type ToolEntitlements = Pick<Entitlements, 'tools' | 'concurrentToolRuns'> & { tierName?: string };

/** Where reports go (the tool-call log); `record` must not block. */
export interface ToolCallSink {
  record(report: ToolCallReport): void;
}

/** Characters of one string argument kept in the log. */
const ARGUMENT_CHARS = 500;

export class ToolRunner {
  private readonly tools = new Map<string, Tool>();
  private entitlements: ToolEntitlements | undefined;
  private running = 0;

  constructor(
    tools: readonly Tool[],
    private readonly sink: ToolCallSink,
    private readonly now: () => number = Date.now,
  ) {
    for (const tool of tools) this.tools.set(tool.name, tool);
  }

  /** The tier's tools and concurrency, from the agent's economy (read every loop). */
  setEntitlements(entitlements: ToolEntitlements): void {
    this.entitlements = entitlements;
  }

  /** The tools this agent may use now. */
  allowed(): AgentTool[] {
    return (this.entitlements?.tools ?? []).filter((name) => this.tools.has(name));
  }

  get inUse(): number {
    return this.running;
  }

  async run(call: ToolCallRequest): Promise<ToolRun> {
    const callId = randomUUID();
    const startedAt = this.now();
    const tool = this.tools.get(call.tool);
    const input = isRecord(call.input) ? call.input : {};
    const refuse = (error: string, action = 'refused') =>
      this.finish(callId, call.tool, action, input, startedAt, failed(error));

    if (!(AGENT_TOOLS as readonly string[]).includes(call.tool) || !tool) {
      return refuse(`there is no tool "${String(call.tool).slice(0, 40)}"; the tools are ${AGENT_TOOLS.join(', ')}`);
    }
    const entitlements = this.entitlements;
    if (!entitlements) return refuse('tools are not available before the agent knows its tier');
    const tier = entitlements.tierName ? `tier ${entitlements.tierName}` : 'your tier';
    if (!entitlements.tools.includes(tool.name)) {
      const allowed = this.allowed();
      return refuse(
        `the ${tool.name} tool is not in ${tier}${allowed.length ? `: you may use ${allowed.join(', ')}` : ', which has no tools'}`,
      );
    }
    if (this.running >= entitlements.concurrentToolRuns) {
      return refuse(
        entitlements.concurrentToolRuns === 0
          ? `${tier} runs no tools`
          : `${tier} allows ${entitlements.concurrentToolRuns} tool run${entitlements.concurrentToolRuns === 1 ? '' : 's'} at once; wait for the others to finish`,
      );
    }
    const parsed = tool.input.safeParse(call.input);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 3)
        .map((issue) => (issue.path.length ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
        .join('; ');
      return refuse(`${tool.name}: ${issues}`, 'invalid');
    }
    this.running++;
    let result: ToolResult;
    try {
      result = await tool.run(parsed.data);
    } catch (error) {
      // A tool must not throw; if one does, the brain still gets an answer.
      result = failed(`${tool.name} crashed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.running--;
    }
    return this.finish(callId, tool.name, tool.action(parsed.data), input, startedAt, result);
  }

  /** Closes what the tools hold (the browser). */
  async close(): Promise<void> {
    await Promise.all([...this.tools.values()].map((tool) => tool.close?.().catch(() => undefined)));
  }

  private finish(
    callId: string,
    tool: string,
    action: string,
    input: Record<string, unknown>,
    startedAt: number,
    result: ToolResult,
  ): ToolRun {
    const finishedAt = this.now();
    const durationMs = Math.max(0, Math.round(finishedAt - startedAt));
    if ((AGENT_TOOLS as readonly string[]).includes(tool)) {
      this.sink.record({
        callId,
        tool: tool as AgentTool,
        action: action.slice(0, 40),
        arguments: loggedArguments(input),
        cwd: result.cwd?.slice(0, TOOL_LOG_LIMITS.cwd) ?? null,
        ok: result.ok,
        exitCode: typeof result.exitCode === 'number' ? result.exitCode : null,
        output: result.output.slice(0, TOOL_LOG_LIMITS.output),
        error: result.error?.slice(0, TOOL_LOG_LIMITS.error) ?? null,
        durationMs,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(finishedAt).toISOString(),
      });
    }
    return { ...result, callId, tool, action, durationMs };
  }
}

/** The input as the log keeps it: redacted, long strings cut, within the log's size. */
export function loggedArguments(input: Record<string, unknown>): Record<string, unknown> {
  const clipped = clipStrings(redactToolArguments(input)) as Record<string, unknown>;
  const json = JSON.stringify(clipped);
  if (json.length <= TOOL_LOG_LIMITS.arguments) return clipped;
  return { summary: `${json.slice(0, TOOL_LOG_LIMITS.arguments - 200)}…`, cutFrom: json.length };
}

function clipStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    return value.length <= ARGUMENT_CHARS ? value : `${value.slice(0, ARGUMENT_CHARS)}…(${value.length} characters)`;
  }
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => clipStrings(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .slice(0, 60)
      .map(([key, inner]) => [key, clipStrings(inner, depth + 1)]),
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
