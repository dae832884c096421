import { z } from 'zod';
import { ApiErrorSchema, ActionResultSchema, CreatedAgentSchema, MoveResultSchema } from './requests.js';
import type { AgentAction, ApiError, CreateAgentRequest, MoveRequest, UpdateAgentRequest } from './requests.js';
import { AgentSchema, HealthSchema, WorldSchema } from './world.js';
import type { Agent } from './world.js';
import { listQueryString, parseContentRange } from './list.js';
import {
  EgressPolicySchema,
  EgressReportResultSchema,
  EgressRequestSchema,
  EgressSecretSchema,
  type EgressRequestReport,
  type RegisterEgressSecretRequest,
} from './egress.js';
import {
  FleetAgentSchema,
  FleetBulkResultSchema,
  NodeSchema,
  RegisteredNodeSchema,
  type KillSwitchRequest,
  type RegisterNodeRequest,
  type StartFleetAgentRequest,
  type UpdateNodeRequest,
} from './fleet.js';
import {
  AuditEntrySchema,
  FlagSchema,
  HelpfulMarkSchema,
  MailSchema,
  PostSchema,
  ReplySchema,
  ThreadSchema,
  type CreatePostRequest,
  type CreateReplyRequest,
  type ModerationRequest,
  type ReplyModerationRequest,
  type UpdatePostRequest,
} from './board.js';
import {
  SessionSchema,
  UserDetailsSchema,
  UserSchema,
  type BanRequest,
  type SignInRequest,
  type SignUpRequest,
  type UpdateUserRequest,
} from './accounts.js';
import type { ListPage, ListParams } from './list.js';
import {
  DepositRefundSchema,
  DepositSchema,
  ReconciliationSchema,
  WebhookEventDetailsSchema,
  WebhookEventSchema,
  type AssignDepositRequest,
  type ManualDepositRequest,
} from './payments.js';
import {
  AgentDetailsSchema,
  AgentEconomySchema,
  AllowanceSchema,
  EconomySummarySchema,
  HourlySpendSchema,
  LedgerEntrySchema,
  LedgerVerificationRecordSchema,
  LedgerVerificationSchema,
  TierPolicySchema,
  TierPreviewSchema,
  TransferSchema,
  type AgentTierSettingsRequest,
  type CreateTransferRequest,
  type JudgementRequest,
  type TierPolicyRequest,
} from './economy.js';
import { QueueStatsSchema } from './compute.js';
import {
  GpuSampleRecordSchema,
  GpuSampleReportResultSchema,
  GpuSummarySchema,
  GpuUsageSchema,
  type GpuSample,
} from './gpu.js';
import { FlowDeployDetailsSchema, FlowDeploySchema } from './flows.js';
import { ToolCallBatchResultSchema, ToolCallSchema, type ToolCallReport } from './tools.js';
import {
  AgentMemorySchema,
  EpisodeBatchResultSchema,
  MemoryNotesSchema,
  type MemoryEpisode,
  type ReplaceNotesRequest,
} from './memory.js';

/** An API answer that was not 2xx: carries the server's status and message. */
export class VillageApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError | undefined,
    readonly path: string,
    /** Seconds to wait before trying again (`Retry-After` of a 429 or 503), when the server said. */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${status} on ${path}: ${body?.message ?? 'no message'}`);
    this.name = 'VillageApiError';
  }
}

/** For writes a client may retry: the same key makes the server apply the request once. */
export interface WriteOptions {
  idempotencyKey?: string;
}

export interface VillageClientOptions {
  /** Base URL of the control plane, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** An agent's or the admin's bearer token. */
  token?: string;
  fetch?: typeof fetch;
  /** Per-request time limit (ms). */
  timeoutMs?: number;
}

/**
 * The typed client of the control plane's API, used by the agent runtime, the map, the console and
 * the Node-RED nodes alike. Every answer is checked against the same zod schema the server uses.
 */
export class VillageClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  private token: string | undefined;

  constructor(private readonly options: VillageClientOptions) {
    this.token = options.token;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Use another bearer token from now on (a person's fresh access token, or none). */
  setToken(token: string | undefined) {
    this.token = token;
  }

  health() {
    return this.request('GET', '/api/health', HealthSchema, undefined, { accept: [200, 503] });
  }

  world() {
    return this.request('GET', '/api/world', WorldSchema);
  }

  /** The agent with its economy (balance, tier, entitlements). */
  agent(id: string) {
    return this.request('GET', `/api/agents/${encodeURIComponent(id)}`, AgentDetailsSchema);
  }

  agents(params: ListParams = {}): Promise<ListPage<Agent>> {
    return this.list('/api/agents', AgentSchema, params);
  }

  /** A new bearer token for the agent (admins); the old one stops working at once. */
  rotateAgentToken(id: string) {
    return this.request(
      'POST',
      `/api/agents/${encodeURIComponent(id)}/token`,
      z.object({ id: z.string(), token: z.string() }),
      {},
    );
  }

  /** Display name and persona (admins); answers the agent with its economy. */
  updateAgent(id: string, body: UpdateAgentRequest) {
    return this.request('PUT', `/api/agents/${encodeURIComponent(id)}`, AgentDetailsSchema, body);
  }

  createAgent(body: CreateAgentRequest, options?: WriteOptions) {
    return this.request('POST', '/api/agents', AgentSchema.extend(CreatedAgentSchema.shape), body, options);
  }

  move(id: string, body: MoveRequest, options?: WriteOptions) {
    return this.request('POST', `/api/agents/${encodeURIComponent(id)}/move`, MoveResultSchema, body, options);
  }

  act(id: string, action: AgentAction, options?: WriteOptions) {
    return this.request('POST', `/api/agents/${encodeURIComponent(id)}/action`, ActionResultSchema, action, options);
  }

  // People and sessions. A `cookie` session (the default) keeps the refresh token in an httpOnly
  // cookie; scripts ask for `session: 'bearer'` and pass the refresh token back themselves.

  signUp(body: SignUpRequest) {
    return this.request('POST', '/api/auth/sign-up', SessionSchema, body);
  }

  signIn(body: SignInRequest) {
    return this.request('POST', '/api/auth/sign-in', SessionSchema, body);
  }

  refresh(refreshToken?: string) {
    return this.request('POST', '/api/auth/refresh', SessionSchema, refreshToken ? { refreshToken } : {});
  }

  async signOut(refreshToken?: string) {
    await this.send('POST', '/api/auth/sign-out', refreshToken ? { refreshToken } : {});
  }

  me() {
    return this.request('GET', '/api/auth/me', UserSchema);
  }

  users(params: ListParams = {}) {
    return this.list('/api/users', UserDetailsSchema, params);
  }

  updateUser(id: string, body: UpdateUserRequest) {
    return this.request('PATCH', `/api/users/${encodeURIComponent(id)}`, UserDetailsSchema, body);
  }

  ban(id: string, body: BanRequest) {
    return this.request('POST', `/api/users/${encodeURIComponent(id)}/ban`, UserDetailsSchema, body);
  }

  unban(id: string) {
    return this.request('POST', `/api/users/${encodeURIComponent(id)}/unban`, UserDetailsSchema, {});
  }

  // The board.

  /** Filters: status, tag, author (`agent:ada`, `human:<user id>`), audience, mentions (`agent:ada`), q. */
  posts(params: ListParams = {}) {
    return this.list('/api/posts', PostSchema, params);
  }

  post(id: number) {
    return this.request('GET', `/api/posts/${id}`, ThreadSchema);
  }

  createPost(body: CreatePostRequest, options?: WriteOptions) {
    return this.request('POST', '/api/posts', PostSchema, body, options);
  }

  updatePost(id: number, body: UpdatePostRequest) {
    return this.request('PATCH', `/api/posts/${id}`, PostSchema, body);
  }

  replies(postId: number, params: ListParams = {}) {
    return this.list(`/api/posts/${postId}/replies`, ReplySchema, params);
  }

  reply(postId: number, body: CreateReplyRequest, options?: WriteOptions) {
    return this.request('POST', `/api/posts/${postId}/replies`, ReplySchema, body, options);
  }

  flagPost(postId: number, reason: string) {
    return this.request('POST', `/api/posts/${postId}/flags`, FlagSchema, { reason });
  }

  flagReply(replyId: number, reason: string) {
    return this.request('POST', `/api/replies/${replyId}/flags`, FlagSchema, { reason });
  }

  /** The signed-in person found the reply helpful (once; again returns the same mark). */
  markReplyHelpful(replyId: number) {
    return this.request('POST', `/api/replies/${replyId}/helpful`, HelpfulMarkSchema, {});
  }

  moderatePost(postId: number, body: ModerationRequest) {
    return this.request('POST', `/api/posts/${postId}/moderation`, PostSchema, body);
  }

  moderateReply(replyId: number, body: ReplyModerationRequest) {
    return this.request('POST', `/api/replies/${replyId}/moderation`, ReplySchema, body);
  }

  /** The flag queue (moderators). Filters: status, postId. */
  flags(params: ListParams = {}) {
    return this.list('/api/flags', FlagSchema, params);
  }

  dismissFlag(id: number, reason: string) {
    return this.request('POST', `/api/flags/${id}/dismiss`, FlagSchema, { reason });
  }

  /**
   * What is new for an agent since `cursor`: replies to its posts, mentions of it, posts addressed to
   * it. Without a cursor, from the last one it acknowledged (by sending it).
   */
  mail(agentId: string, query: { cursor?: string; limit?: number } = {}) {
    const search = new URLSearchParams();
    if (query.cursor !== undefined) search.set('cursor', query.cursor);
    if (query.limit !== undefined) search.set('limit', String(query.limit));
    const suffix = search.size ? `?${search}` : '';
    return this.request('GET', `/api/agents/${encodeURIComponent(agentId)}/mail${suffix}`, MailSchema);
  }

  /** The audit log (moderators). Filters: action, subjectType, subjectId, actorType, actorId. */
  audit(params: ListParams = {}) {
    return this.list('/api/audit', AuditEntrySchema, params);
  }

  // The economy (amounts in mills: 1 aiDollar = 1000).

  /** Balance, tier and entitlements (public). */
  balance(agentId: string) {
    return this.request('GET', `/api/economy/balance/${encodeURIComponent(agentId)}`, AgentEconomySchema);
  }

  /** An agent's ledger entries, newest first. */
  ledger(agentId: string, params: ListParams = {}) {
    return this.list(`/api/economy/ledger/${encodeURIComponent(agentId)}`, LedgerEntrySchema, params);
  }

  reward(body: JudgementRequest, options?: WriteOptions) {
    return this.request('POST', '/api/economy/reward', TransferSchema, body, options);
  }

  /** Takes what the agent has when the amount is more. */
  penalize(body: JudgementRequest, options?: WriteOptions) {
    return this.request('POST', '/api/economy/penalize', TransferSchema, body, options);
  }

  allowance() {
    return this.request('GET', '/api/economy/allowance', AllowanceSchema);
  }

  tierPolicy() {
    return this.request('GET', '/api/economy/tiers', TierPolicySchema);
  }

  setTierPolicy(body: TierPolicyRequest) {
    return this.request('PUT', '/api/economy/tiers', TierPolicySchema, body);
  }

  setAgentTier(agentId: string, body: AgentTierSettingsRequest) {
    return this.request('PUT', `/api/agents/${encodeURIComponent(agentId)}/tier`, AgentEconomySchema, body);
  }

  /** Stops the agent's LLM calls until someone resumes them (moderators). */
  pauseCompute(agentId: string, reason: string) {
    return this.request('POST', `/api/agents/${encodeURIComponent(agentId)}/compute/pause`, AgentEconomySchema, {
      reason,
    });
  }

  resumeCompute(agentId: string, reason: string) {
    return this.request('POST', `/api/agents/${encodeURIComponent(agentId)}/compute/resume`, AgentEconomySchema, {
      reason,
    });
  }

  verifyLedger() {
    return this.request('GET', '/api/economy/verify', LedgerVerificationSchema);
  }

  /** Past runs of the ledger check (moderators), newest first. Filters: id, ok, verifiedBy. */
  ledgerVerifications(params: ListParams = {}) {
    return this.list('/api/economy/verifications', LedgerVerificationRecordSchema, params);
  }

  /** Agents, aiDollars in circulation and held, and the last ledger check (moderators). */
  economySummary() {
    return this.request('GET', '/api/economy/summary', EconomySummarySchema);
  }

  /** Compute spending per hour over the last `hours` (moderators), oldest first. */
  spendByHour(hours = 24) {
    return this.request('GET', `/api/economy/spend?hours=${hours}`, z.array(HourlySpendSchema));
  }

  /** Which agents a proposed tier policy would move (moderators); changes nothing. */
  previewTierPolicy(body: TierPolicyRequest) {
    return this.request('POST', '/api/economy/tiers/preview', TierPreviewSchema, body);
  }

  /** The LLM admission queue: waiting calls by tier and recent waits (moderators). */
  llmQueue() {
    return this.request('GET', '/api/llm/queue', QueueStatsSchema);
  }

  /** Transfers (moderators). Filters: id, kind, reason, sourceType, sourceId, postId, account, agentId. */
  transfers(params: ListParams = {}) {
    return this.list('/api/transfers', TransferSchema, params);
  }

  createTransfer(body: CreateTransferRequest, options?: WriteOptions) {
    return this.request('POST', '/api/transfers', TransferSchema, body, options);
  }

  reverseTransfer(id: number, reason: string) {
    return this.request('POST', `/api/transfers/${id}/reverse`, TransferSchema, { reason });
  }

  // Tools and memory.

  /** The agent reports tool calls it ran (a batch; a call reported twice is stored once). */
  reportToolCalls(agentId: string, calls: ToolCallReport[]) {
    return this.request('POST', `/api/agents/${encodeURIComponent(agentId)}/tool-calls`, ToolCallBatchResultSchema, {
      calls,
    });
  }

  /** The tool-call log (moderators), newest first. Filters: id, agentId, tool, action, ok. */
  toolCalls(params: ListParams = {}) {
    return this.list('/api/tool-calls', ToolCallSchema, params);
  }

  toolCall(id: number) {
    return this.request('GET', `/api/tool-calls/${id}`, ToolCallSchema);
  }

  /** The agent's notes and newest episodes (the agent itself, or moderators). */
  memory(agentId: string, query: { episodes?: number } = {}) {
    const suffix = query.episodes === undefined ? '' : `?episodes=${query.episodes}`;
    return this.request('GET', `/api/agents/${encodeURIComponent(agentId)}/memory${suffix}`, AgentMemorySchema);
  }

  /** Adds (or, by key, updates) episodes of the agent's log. */
  recordEpisodes(agentId: string, episodes: MemoryEpisode[]) {
    return this.request(
      'POST',
      `/api/agents/${encodeURIComponent(agentId)}/memory/episodes`,
      EpisodeBatchResultSchema,
      { episodes },
    );
  }

  /** One more reflection note; the oldest are folded into the digest beyond the cap. */
  addNote(agentId: string, text: string, options?: WriteOptions) {
    return this.request(
      'POST',
      `/api/agents/${encodeURIComponent(agentId)}/memory/notes`,
      MemoryNotesSchema,
      { text },
      options,
    );
  }

  /** The agent rewrites its notes (and digest). */
  replaceNotes(agentId: string, body: ReplaceNotesRequest) {
    return this.request('PUT', `/api/agents/${encodeURIComponent(agentId)}/memory/notes`, MemoryNotesSchema, body);
  }

  // Payments (moderators read, admins act; amounts as PayPal writes them, aiDollars in mills).

  /** Deposits. Filters: id, source, status, agentId, requestedAgentId, currency, transactionId. */
  deposits(params: ListParams = {}) {
    return this.list('/api/payments/deposits', DepositSchema, params);
  }

  deposit(id: number) {
    return this.request('GET', `/api/payments/deposits/${id}`, DepositSchema);
  }

  /** Records a PayPal transaction by hand; the same transaction again returns the same deposit. */
  enterDeposit(body: ManualDepositRequest) {
    return this.request('POST', '/api/payments/deposits', DepositSchema, body);
  }

  /** Gives money parked in suspense to an agent. */
  assignDeposit(id: number, body: AssignDepositRequest) {
    return this.request('POST', `/api/payments/deposits/${id}/assign`, DepositSchema, body);
  }

  /** Refunds and reversals. Filters: id, refundId, kind, status, depositId, transactionId. */
  depositRefunds(params: ListParams = {}) {
    return this.list('/api/payments/refunds', DepositRefundSchema, params);
  }

  /** PayPal webhook deliveries as stored. Filters: id, eventId, eventType, status, depositId. */
  webhookEvents(params: ListParams = {}) {
    return this.list('/api/payments/webhook-events', WebhookEventSchema, params);
  }

  /** One delivery with its headers and raw body. */
  webhookEvent(id: number) {
    return this.request('GET', `/api/payments/webhook-events/${id}`, WebhookEventDetailsSchema);
  }

  retryWebhookEvent(id: number) {
    return this.request('POST', `/api/payments/webhook-events/${id}/retry`, WebhookEventSchema);
  }

  /** Deposits against the ledger; `from`/`to` (ISO 8601) bound it. */
  reconciliation(range: { from?: string; to?: string } = {}) {
    return this.request('GET', `/api/payments/reconciliation${reconciliationQuery(range)}`, ReconciliationSchema);
  }

  /** The same as CSV, one deposit a line. */
  async reconciliationCsv(range: { from?: string; to?: string } = {}): Promise<string> {
    const query = reconciliationQuery({ ...range, format: 'csv' });
    return (await this.send('GET', `/api/payments/reconciliation${query}`)).text();
  }

  // Nodes and guarded egress.

  /** Registers a machine that runs agents (admins); its token is in the answer, once. */
  registerNode(body: RegisterNodeRequest) {
    return this.request('POST', '/api/nodes', RegisteredNodeSchema, body);
  }

  rotateNodeToken(name: string) {
    return this.request('POST', `/api/nodes/${encodeURIComponent(name)}/token`, RegisteredNodeSchema);
  }

  nodes() {
    return this.list('/api/nodes', NodeSchema, {});
  }

  node(name: string) {
    return this.request('GET', `/api/nodes/${encodeURIComponent(name)}`, NodeSchema);
  }

  /** Changes a node's labels, engine, agent network or cordon (admins). */
  updateNode(name: string, body: UpdateNodeRequest) {
    return this.request('PUT', `/api/nodes/${encodeURIComponent(name)}`, NodeSchema, body);
  }

  // The fleet: agents' containers and the kill switch (docs/OPERATIONS.md).

  fleetAgents(params: ListParams = {}) {
    return this.list('/api/fleet/agents', FleetAgentSchema, params);
  }

  fleetAgent(agentId: string) {
    return this.request('GET', `/api/fleet/agents/${encodeURIComponent(agentId)}`, FleetAgentSchema);
  }

  /** Runs an agent in a container (admins): on `node`, or placed by labels and free capacity. */
  startFleetAgent(agentId: string, body: StartFleetAgentRequest = {}) {
    return this.request('POST', `/api/fleet/agents/${encodeURIComponent(agentId)}/start`, FleetAgentSchema, body);
  }

  /** One kill-switch action on one agent (admins): freeze, unfreeze, kill, revoke-token, quarantine, release. */
  killSwitch(
    agentId: string,
    action: 'freeze' | 'unfreeze' | 'kill' | 'revoke-token' | 'quarantine' | 'release',
    body: KillSwitchRequest,
  ) {
    return this.request('POST', `/api/fleet/agents/${encodeURIComponent(agentId)}/${action}`, FleetAgentSchema, body);
  }

  /** Pauses every running agent's container at once (admins). */
  pauseAllAgents(body: KillSwitchRequest) {
    return this.request('POST', '/api/fleet/pause-all', FleetBulkResultSchema, body);
  }

  /** Resumes the agents "pause all" paused (frozen and quarantined ones stay). */
  resumeAllAgents(body: KillSwitchRequest) {
    return this.request('POST', '/api/fleet/resume-all', FleetBulkResultSchema, body);
  }

  /** A site secret the egress proxies add as a header for one host (admins); the answer never holds the value. */
  registerEgressSecret(body: RegisterEgressSecretRequest) {
    return this.request('POST', '/api/egress/secrets', EgressSecretSchema, body);
  }

  egressSecrets() {
    return this.list('/api/egress/secrets', EgressSecretSchema, {});
  }

  revokeEgressSecret(id: number) {
    return this.request('DELETE', `/api/egress/secrets/${id}`, EgressSecretSchema);
  }

  /** What a node's egress proxy enforces and injects for an agent (node tokens only). */
  egressPolicy(agentId: string) {
    return this.request('GET', `/api/egress/policy/${encodeURIComponent(agentId)}`, EgressPolicySchema);
  }

  /** A node's egress proxy reports what went out (node tokens only). */
  reportEgressRequests(requests: EgressRequestReport[]) {
    return this.request('POST', '/api/egress/requests', EgressReportResultSchema, { requests });
  }

  /** The outbound request log (moderators), newest first. Filters: id, agentId, node, host, method, allowed, status. */
  egressRequests(params: ListParams = {}) {
    return this.list('/api/egress-requests', EgressRequestSchema, params);
  }

  // GPU share.

  /** A node's GPU reporter sends its samples (node tokens only); a sample sent again changes nothing. */
  reportGpuSamples(samples: GpuSample[]) {
    return this.request('POST', '/api/gpu/samples', GpuSampleReportResultSchema, { samples });
  }

  /**
   * Stored GPU process samples (moderators), newest first. Filters: id, node, agentId, reportedAgentId,
   * attribution, deviceUuid, gpuUuid, containerId, pid, usageId, billed.
   */
  gpuSamples(params: ListParams = {}) {
    return this.list('/api/gpu/samples', GpuSampleRecordSchema, params);
  }

  /** GPU bills (moderators), newest first. Filters: id, agentId, status, tier, transferId. */
  gpuUsage(params: ListParams = {}) {
    return this.list('/api/gpu/usage', GpuUsageSchema, params);
  }

  gpuBill(id: number) {
    return this.request('GET', `/api/gpu/usage/${id}`, GpuUsageSchema);
  }

  /** An agent's GPU use and bills since `since` (ISO 8601; default the last 24 hours). Public. */
  gpuSummary(agentId: string, since?: string) {
    const query = since ? `?since=${encodeURIComponent(since)}` : '';
    return this.request('GET', `/api/gpu/summary/${encodeURIComponent(agentId)}${query}`, GpuSummarySchema);
  }

  // Flows (admins): the embedded Node-RED's deploy history and rollback.

  /** Deploys, newest first. Filters: id, kind, deployedBy. */
  flowDeploys(params: ListParams = {}) {
    return this.list('/api/flows/deploys', FlowDeploySchema, params);
  }

  flowDeploy(id: number) {
    return this.request('GET', `/api/flows/deploys/${id}`, FlowDeployDetailsSchema);
  }

  /** Runs deploy `id`'s flows again, recorded as a new deploy. */
  rollbackFlows(id: number, reason: string) {
    return this.request('POST', `/api/flows/deploys/${id}/rollback`, FlowDeploySchema, { reason });
  }

  private async list<S extends z.ZodType>(path: string, schema: S, params: ListParams): Promise<ListPage<z.infer<S>>> {
    const response = await this.send('GET', `${path}${listQueryString(params)}`);
    const items = z.array(schema).parse(await response.json());
    const range = parseContentRange(response.headers.get('content-range'));
    return { items, total: range?.total ?? items.length, range: range?.range ?? null };
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
    options?: WriteOptions & { accept?: number[] },
  ): Promise<z.infer<S>> {
    const response = await this.send(method, path, body, options);
    return schema.parse(await response.json());
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    options: WriteOptions & { accept?: number[] } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const response = await this.fetchImpl(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
    if (!response.ok && !(options.accept ?? []).includes(response.status)) {
      const parsed = ApiErrorSchema.safeParse(await response.json().catch(() => undefined));
      const retryAfter = Number(response.headers.get('retry-after') ?? NaN);
      throw new VillageApiError(
        response.status,
        parsed.success ? parsed.data : undefined,
        path,
        Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
      );
    }
    return response;
  }
}

function reconciliationQuery(params: Record<string, string | undefined>): string {
  const query = new URLSearchParams(Object.entries(params).filter((entry): entry is [string, string] => !!entry[1]));
  const text = query.toString();
  return text ? `?${text}` : '';
}
