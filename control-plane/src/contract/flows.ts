import { z } from 'zod';

/**
 * The embedded Node-RED (docs/FLOWS.md): the append-only history of deploys and rollbacks, and the
 * village clock the flows' clock node and the agents' scripted brain read time of day from.
 */

export const FLOW_DEPLOY_KINDS = ['default', 'deploy', 'rollback'] as const;

export const FlowDeploySummarySchema = z.object({
  /** Ids of the nodes, tabs and config nodes added, changed and removed against the previous deploy. */
  added: z.array(z.string()),
  changed: z.array(z.string()),
  removed: z.array(z.string()),
  /** How many nodes (tabs and config nodes included) the deploy holds. */
  nodes: z.number().int().nonnegative(),
});
export type FlowDeploySummary = z.infer<typeof FlowDeploySummarySchema>;

/** One deploy (`GET /api/flows/deploys`): who, when, what changed; the flows themselves only by id. */
export const FlowDeploySchema = z.object({
  id: z.number().int().positive(),
  kind: z.enum(FLOW_DEPLOY_KINDS),
  /** Node-RED's revision of these flows (SHA-256 of their JSON). */
  rev: z.string(),
  /** `user:<handle>`, `admin-token`, or `village` for the shipped flows. */
  deployedBy: z.string(),
  /** The deploy a rollback restored. */
  rollbackOf: z.number().int().positive().nullable(),
  summary: FlowDeploySummarySchema,
  /** Whether this is the deploy that runs now (the newest). */
  current: z.boolean(),
  createdAt: z.string(),
});
export type FlowDeploy = z.infer<typeof FlowDeploySchema>;

/** `GET /api/flows/deploys/:id`: the deploy with its flow configuration (credentials never leave). */
export const FlowDeployDetailsSchema = FlowDeploySchema.extend({ flows: z.array(z.record(z.string(), z.unknown())) });
export type FlowDeployDetails = z.infer<typeof FlowDeployDetailsSchema>;

/** `POST /api/flows/deploys/:id/rollback` (admins). */
export const RollbackFlowsRequestSchema = z
  .strictObject({ reason: z.string().trim().min(1, 'give a reason').max(500, 'at most 500 characters') })
  .strict();
export type RollbackFlowsRequest = z.input<typeof RollbackFlowsRequestSchema>;
