// The runtime's side of the tool-call log: each call's report queued and sent to
// `POST /api/agents/:id/tool-calls` in batches, off the tool's path (see BatchReporter).
import type { ToolCallReport, VillageClient } from '@ai-village/control-plane/contract';
import { TOOL_LOG_LIMITS } from '@ai-village/control-plane/contract';
import { BatchReporter } from '../batch-reporter.js';
import type { StructuredLog } from '../structured-log.js';
import type { ToolCallSink } from './tool-runner.js';

export class ToolCallLog implements ToolCallSink {
  readonly reporter: BatchReporter<ToolCallReport>;

  constructor(
    client: Pick<VillageClient, 'reportToolCalls'>,
    agentId: string,
    log: StructuredLog,
    options: { delayMs?: number; capacity?: number } = {},
  ) {
    this.reporter = new BatchReporter<ToolCallReport>({
      what: 'tool calls',
      send: (calls) => client.reportToolCalls(agentId, calls),
      log,
      batchItems: TOOL_LOG_LIMITS.callsPerReport,
      ...options,
    });
  }

  record(report: ToolCallReport): void {
    this.reporter.add(report);
  }

  flush(deadlineMs?: number): Promise<void> {
    return this.reporter.flush(deadlineMs);
  }
}
