import { z } from 'zod';

/**
 * The fleet: the machines that run agents (nodes, each with its Docker engine, labels and capacity),
 * each agent's desired and observed container, and the kill switch. docs/OPERATIONS.md and
 * docs/DEPLOYMENT.md explain them; the reconcile loop is ADR 0014.
 */

export const NODE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const NodeNameSchema = z.string().regex(NODE_NAME_PATTERN, 'a node name is 1-63 characters of a-z, 0-9 and -');

const LabelsSchema = z.record(
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/, 'a label name is 1-63 characters of A-Z, a-z, 0-9, . _ / -'),
  z.string().max(255),
);

const AbsolutePathSchema = (what: string) =>
  z
    .string()
    .min(2, `${what} must be an absolute path`)
    .max(255)
    .refine(
      (path) => path.startsWith('/') && !path.split('/').includes('..') && !/\/\/|\/$|[\0\n]/.test(path),
      `${what} must be an absolute, normalised path (no .., no trailing /)`,
    );

const PemSchema = (what: string, kind: RegExp) =>
  z
    .string()
    .max(64_000)
    .refine((text) => kind.test(text), `${what} must be PEM text (-----BEGIN ...-----)`);

/**
 * A node's Docker engine, as an admin gives it:
 * - `none`: a node of daemons only (egress proxy, GPU reporter); the fleet runs nothing there;
 * - `socket`: a Unix socket on the control plane's own machine (`/var/run/docker.sock`);
 * - `tcp`: a remote engine over TCP, always with mutual TLS (a plain TCP engine is root on the node
 *   for anyone who reaches the port, so it is refused). The key is sealed at rest and never returned.
 */
export const NodeEngineRequestSchema = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('none') }).strict(),
    z.object({ kind: z.literal('socket'), socketPath: AbsolutePathSchema('socketPath') }).strict(),
    z
      .object({
        kind: z.literal('tcp'),
        host: z
          .string()
          .regex(
            /^([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9a-fA-F:.]+\])$/,
            'host must be a host name or an IP address',
          ),
        port: z.number().int().min(1).max(65535).default(2376),
        tls: z
          .object({
            ca: PemSchema('tls.ca', /-----BEGIN CERTIFICATE-----/),
            cert: PemSchema('tls.cert', /-----BEGIN CERTIFICATE-----/),
            key: PemSchema('tls.key', /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/),
          })
          .strict(),
      })
      .strict(),
  ],
  { error: 'engine.kind must be none, socket or tcp (tcp needs tls: ca, cert and key)' },
);
export type NodeEngineRequest = z.input<typeof NodeEngineRequestSchema>;

/**
 * How the node's agent containers reach the village: `egress-proxy` (the design: no network, the
 * node's egress daemon listens on `<egressDir>/<agent>/egress.sock`, a path on the node) or `host`
 * (the host's network and `villageUrl` as seen from the node: one machine, tests).
 */
export const AgentNetworkRequestSchema = z.discriminatedUnion(
  'mode',
  [
    z
      .object({
        mode: z.literal('egress-proxy'),
        egressDir: AbsolutePathSchema('egressDir').default('/run/village/egress'),
      })
      .strict(),
    z
      .object({
        mode: z.literal('host'),
        villageUrl: z.url({ protocol: /^https?$/, error: 'villageUrl must be an http(s) URL' }),
      })
      .strict(),
  ],
  { error: 'agentNetwork.mode must be egress-proxy or host' },
);

/** `POST /api/nodes` (admin): registers a node; its token is in the answer once. */
export const RegisterNodeRequestSchema = z
  .object({
    name: NodeNameSchema,
    labels: LabelsSchema.default({}),
    engine: NodeEngineRequestSchema.default({ kind: 'none' }),
    agentNetwork: AgentNetworkRequestSchema.default({ mode: 'egress-proxy', egressDir: '/run/village/egress' }),
  })
  .strict();
export type RegisterNodeRequest = z.input<typeof RegisterNodeRequestSchema>;

/** `PUT /api/nodes/:name` (admin): what is given changes, the rest stays. */
export const UpdateNodeRequestSchema = z
  .object({
    labels: LabelsSchema.optional(),
    engine: NodeEngineRequestSchema.optional(),
    agentNetwork: AgentNetworkRequestSchema.optional(),
    /** Place nothing new on it (agents there stay). */
    cordoned: z.boolean().optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'give at least one of labels, engine, agentNetwork, cordoned');
export type UpdateNodeRequest = z.input<typeof UpdateNodeRequestSchema>;

export const NODE_STATES = ['unknown', 'ready', 'down'] as const;

/** A node as people see it: the engine's address and certificates' fingerprints, never the key. */
export const NodeSchema = z.object({
  /** The name again, for react-admin. */
  id: z.string(),
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
  /** When its daemons (egress proxy, GPU reporter) last called. */
  lastSeenAt: z.string().nullable(),
  engine: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('none') }),
    z.object({ kind: z.literal('socket'), socketPath: z.string() }),
    z.object({
      kind: z.literal('tcp'),
      host: z.string(),
      port: z.number().int(),
      /** SHA-256 fingerprints of the CA and client certificates; the key is stored sealed. */
      tls: z.object({ caSha256: z.string(), certSha256: z.string(), keySealed: z.boolean() }),
    }),
  ]),
  agentNetwork: z.discriminatedUnion('mode', [
    z.object({ mode: z.literal('egress-proxy'), egressDir: z.string() }),
    z.object({ mode: z.literal('host'), villageUrl: z.string() }),
  ]),
  cordoned: z.boolean(),
  /** What the reconcile loop last saw of the engine. */
  state: z.enum(NODE_STATES),
  stateError: z.string().nullable(),
  stateChangedAt: z.string().nullable(),
  checkedAt: z.string().nullable(),
  engineVersion: z.string().nullable(),
  /** As reported: the engine's CPUs and memory, the node's GPU inventory (from its reporter). */
  capacity: z.object({
    cpus: z.number().nullable(),
    memoryMb: z.number().int().nullable(),
    gpus: z.array(z.unknown()),
  }),
  /** What the agents placed on it take, by their tiers. */
  allocated: z.object({ agents: z.number().int(), cpus: z.number(), memoryMb: z.number().int() }),
});
export type VillageNode = z.infer<typeof NodeSchema>;
export const RegisteredNodeSchema = z.object({ node: NodeSchema, token: z.string() });
export type RegisteredNode = z.infer<typeof RegisteredNodeSchema>;

/** What an agent's container should be doing. */
export const FLEET_DESIRED_STATES = ['running', 'paused', 'frozen', 'stopped', 'quarantined'] as const;
export type FleetDesiredState = (typeof FLEET_DESIRED_STATES)[number];
/** What its container was last seen doing (Docker's states, `none` without a container, `unknown` when its node is down). */
export const FLEET_OBSERVED_STATES = [
  'none',
  'created',
  'running',
  'paused',
  'restarting',
  'exited',
  'dead',
  'removing',
  'unknown',
] as const;
export type FleetObservedState = (typeof FLEET_OBSERVED_STATES)[number];

/** An agent the fleet runs (`GET /api/fleet/agents`). */
export const FleetAgentSchema = z.object({
  /** The agent's id, for react-admin. */
  id: z.string(),
  agentId: z.string(),
  node: z.string().nullable(),
  desired: z.enum(FLEET_DESIRED_STATES),
  desiredReason: z.string().nullable(),
  /** Who set the desired state: `human:<id>`, `system:system` (the admin token or the launcher). */
  desiredBy: z.string(),
  desiredAt: z.string(),
  nodeSelector: z.record(z.string(), z.string()),
  /** The image it runs (the village's default when none was given). */
  image: z.string(),
  containerId: z.string().nullable(),
  observed: z.enum(FLEET_OBSERVED_STATES),
  health: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  /** Containers made since one last ran healthily; picks the back-off. */
  restarts: z.number().int(),
  lastError: z.string().nullable(),
  /** While backing off after a failure: when the next attempt is due. */
  nextAttemptAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  observedAt: z.string().nullable(),
});
export type FleetAgent = z.infer<typeof FleetAgentSchema>;
export const FLEET_AGENT_SORT_FIELDS = ['agentId', 'node', 'desired', 'observed', 'restarts', 'desiredAt'] as const;

const ReasonSchema = z
  .string()
  .trim()
  .min(1, 'reason must not be empty')
  .max(500, 'reason must be at most 500 characters');

/** `POST /api/fleet/agents/:id/start` (admin): run the agent in a container (placed unless `node` is given). */
export const StartFleetAgentRequestSchema = z
  .object({
    node: NodeNameSchema.optional(),
    /** Labels the node must carry (placement); ignored when `node` is given. */
    nodeSelector: LabelsSchema.optional(),
    image: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._/:@-]{0,254}$/, 'image must be an image reference, e.g. ai-village/agent:latest')
      .optional(),
    reason: ReasonSchema.optional(),
  })
  .strict();
export type StartFleetAgentRequest = z.input<typeof StartFleetAgentRequestSchema>;

/** Every kill-switch action says why: it is in the audit log and on the event stream. */
export const KillSwitchRequestSchema = z.object({ reason: ReasonSchema }).strict();
export type KillSwitchRequest = z.input<typeof KillSwitchRequestSchema>;

export const KILL_SWITCH_ACTIONS = [
  'start',
  'pause_all',
  'resume_all',
  'freeze',
  'unfreeze',
  'kill',
  'revoke_token',
  'quarantine',
  'release',
] as const;
export type KillSwitchAction = (typeof KILL_SWITCH_ACTIONS)[number];

/** The answer of `pause-all` and `resume-all`. */
export const FleetBulkResultSchema = z.object({
  action: z.enum(KILL_SWITCH_ACTIONS),
  /** The agents whose desired state changed. */
  agentIds: z.array(z.string()),
  /** Those whose container was changed at once; the rest follow in the reconcile loop. */
  applied: z.number().int(),
  /** Agents whose container could not be reached (node down, say): listed with the error. */
  failed: z.array(z.object({ agentId: z.string(), error: z.string() })),
  durationMs: z.number(),
});
export type FleetBulkResult = z.infer<typeof FleetBulkResultSchema>;

/** What the reconcile loop (or a kill-switch action) did to an agent's container. */
export const FLEET_CONTAINER_ACTIONS = [
  'created',
  'replaced',
  'adopted',
  'removed',
  'paused',
  'unpaused',
  'killed',
  'limits_updated',
  'failed',
  'observed',
] as const;
export type FleetContainerAction = (typeof FLEET_CONTAINER_ACTIONS)[number];
