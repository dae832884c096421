import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus instruments, in one registry of our own (not prom-client's global one, which
 * libraries may also write to). Counters and histograms are per process: each replica counts what it
 * served, and Prometheus sums the replicas. The few `record…` functions below are the only hooks other
 * modules call (one line each); everything else is read from the event bus or from existing services
 * when Prometheus scrapes (metrics.service.ts).
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** Seconds; from 1 ms (a cached read) to 10 s (a stuck request). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const httpRequestDuration = new Histogram({
  name: 'village_http_request_duration_seconds',
  help: 'HTTP requests served by this replica, by route template (none: no route matched), method and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const tickDuration = new Histogram({
  name: 'village_tick_duration_seconds',
  help: 'World ticks run by this replica (the clock leader): time to compute and commit one tick',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [registry],
});

export const tickAgentsMoved = new Counter({
  name: 'village_tick_agents_moved_total',
  help: 'Steps walked by agents in the ticks this replica ran',
  registers: [registry],
});

export const viewers = new Gauge({
  name: 'village_viewers',
  help: 'Map viewers (socket.io /world) connected to this replica',
  registers: [registry],
});

export const eventsPublished = new Counter({
  name: 'village_events_total',
  help: 'Domain events published by this replica, by type',
  labelNames: ['type'] as const,
  registers: [registry],
});

export const ledgerTransfers = new Counter({
  name: 'village_ledger_transfers_total',
  help: 'Ledger transfers committed by this replica (replays of an idempotency key not counted), by kind and reason',
  labelNames: ['kind', 'reason'] as const,
  registers: [registry],
});

export const ledgerAmount = new Counter({
  name: 'village_ledger_amount_mills_total',
  help: 'Mills moved or reserved by those transfers, by kind and reason (1 aiDollar = 1000 mills)',
  labelNames: ['kind', 'reason'] as const,
  registers: [registry],
});

export const llmCalls = new Counter({
  name: 'village_llm_calls_total',
  help: 'LLM calls through the gateway billed by this replica, by model, upstream and outcome',
  labelNames: ['model', 'upstream', 'status'] as const,
  registers: [registry],
});

export const llmTokens = new Counter({
  name: 'village_llm_tokens_total',
  help: 'LLM tokens billed by this replica, by model and kind (prompt or completion)',
  labelNames: ['model', 'kind'] as const,
  registers: [registry],
});

export const llmSpend = new Counter({
  name: 'village_llm_spend_mills_total',
  help: 'aiDollars (mills) charged for LLM calls by this replica, by model (the commons allowance is free)',
  labelNames: ['model'] as const,
  registers: [registry],
});

export const llmQueueWait = new Histogram({
  name: 'village_llm_queue_wait_seconds',
  help: 'Time LLM calls billed by this replica waited in the admission queue for an upstream slot',
  labelNames: ['model'] as const,
  buckets: [0, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

export const toolCalls = new Counter({
  name: 'village_tool_calls_total',
  help: 'Tool calls agents reported to this replica, by tool and whether they succeeded',
  labelNames: ['tool', 'ok'] as const,
  registers: [registry],
});

export const toolCallDuration = new Histogram({
  name: 'village_tool_call_duration_seconds',
  help: 'How long the tool calls reported to this replica ran in their containers, by tool',
  labelNames: ['tool'] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const fleetActions = new Counter({
  name: 'village_fleet_container_actions_total',
  help: "What this replica's fleet reconcile passes did to agents' containers, by action and the state seen after",
  labelNames: ['action', 'observed'] as const,
  registers: [registry],
});

/** GPU share: the rate of these is how many GPUs (and GiB of GPU memory) the agents use. */
export const gpuSeconds = new Counter({
  name: 'village_gpu_seconds_total',
  help: 'GPU-seconds used by agents, as billed by this replica (rate: GPUs in use)',
  registers: [registry],
});

export const gpuMemorySeconds = new Counter({
  name: 'village_gpu_memory_gib_seconds_total',
  help: 'GPU memory held by agents (GiB-seconds), as billed by this replica (rate: GiB in use)',
  registers: [registry],
});

export const gpuCharged = new Counter({
  name: 'village_gpu_charged_mills_total',
  help: 'aiDollars (mills) taken from agents for GPU use by this replica',
  registers: [registry],
});

/** Request paths are unbounded (ids); the route template is not. */
interface RoutedRequest {
  method: string;
  baseUrl?: string;
  route?: { path?: unknown };
}

/** Hook: the HTTP pipeline's access log, once per finished request. */
export function recordHttpRequest(request: RoutedRequest, status: number, ms: number): void {
  const path = request.route?.path;
  const route = typeof path === 'string' ? `${request.baseUrl ?? ''}${path}` : 'none';
  httpRequestDuration.observe({ method: request.method, route, status: String(status) }, ms / 1000);
}

/** Hook: a viewer connected; counted until its socket disconnects. */
export function trackViewer(socket: { once(event: 'disconnect', listener: () => void): unknown }): void {
  viewers.inc();
  socket.once('disconnect', () => viewers.dec());
}

/** Hook: the ledger announced a committed transfer. */
export function recordLedgerTransfer(transfer: { kind: string; reason: string; amount: number }): void {
  ledgerTransfers.inc({ kind: transfer.kind, reason: transfer.reason });
  ledgerAmount.inc({ kind: transfer.kind, reason: transfer.reason }, transfer.amount);
}

export interface BilledLlmCall {
  model: string;
  upstream: string;
  status: string;
  promptTokens: number;
  completionTokens: number;
  /** Mills charged. */
  charged: number;
  queuedMs: number;
}

/** Hook: the gateway billed a call. */
export function recordLlmCall(call: BilledLlmCall): void {
  llmCalls.inc({ model: call.model, upstream: call.upstream, status: call.status });
  llmTokens.inc({ model: call.model, kind: 'prompt' }, call.promptTokens);
  llmTokens.inc({ model: call.model, kind: 'completion' }, call.completionTokens);
  if (call.charged > 0) llmSpend.inc({ model: call.model }, call.charged);
  llmQueueWait.observe({ model: call.model }, call.queuedMs / 1000);
}
