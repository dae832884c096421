import { z } from 'zod';

/**
 * Guarded egress: the site secrets a node's egress proxy injects, and the log of every outbound
 * request. An agent container has no network of its own; its node's
 * egress proxy (agent-image/src/egress) is its only way out, and follows these rules.
 */

// Nodes themselves (name, engine, labels, capacity) are in fleet.ts.

/**
 * A host an agent may reach: `example.org` (that host), `*.example.org` (its subdomains, not itself),
 * `*` (any public host), each with an optional `:port` (any port otherwise). Private, loopback and
 * link-local addresses are refused unless a pattern names that exact address or host.
 */
export const EgressHostPatternSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(
    /^(\*|(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/,
    'a host pattern is a host name, *.domain, * or an IP address, with an optional :port',
  );

/**
 * Whether `host:port` matches one of the patterns (host names compared lower-case, without a trailing
 * dot); without a port, whether the host matches on some port.
 */
export function egressHostAllowed(patterns: readonly string[], host: string, port?: number): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((pattern) => {
    const at = pattern.lastIndexOf(':');
    const hasPort = at > 0 && !pattern.endsWith(']') && /^\d+$/.test(pattern.slice(at + 1));
    const hostPart = hasPort ? pattern.slice(0, at) : pattern;
    if (hasPort && port !== undefined && Number(pattern.slice(at + 1)) !== port) return false;
    if (hostPart === '*') return true;
    if (hostPart.startsWith('*.')) return name.endsWith(hostPart.slice(1));
    return name === hostPart.replace(/^\[(.*)\]$/, '$1');
  });
}

/** Whether a pattern names this host exactly (not by a wildcard): only then may it be a private address. */
export function egressHostNamedExactly(patterns: readonly string[], host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((pattern) => pattern.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1') === name);
}

const HeaderNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'header must be an HTTP header name, e.g. Authorization');
/** Headers the proxy owns: a secret cannot replace them. */
const RESERVED_HEADERS = ['host', 'content-length', 'transfer-encoding', 'connection', 'proxy-authorization'];

/** `POST /api/egress/secrets` (admin): a secret the proxy adds as `header: value` to requests for `host`. */
export const RegisterEgressSecretRequestSchema = z
  .object({
    host: z
      .string()
      .trim()
      .toLowerCase()
      .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'host must be one host name (no wildcard, no port)'),
    header: HeaderNameSchema.refine((name) => !RESERVED_HEADERS.includes(name.toLowerCase()), {
      message: `header must not be one the proxy sets itself (${RESERVED_HEADERS.join(', ')})`,
    }),
    value: z.string().min(1, 'value must not be empty').max(8192),
    description: z.string().trim().max(500).default(''),
  })
  .strict();
export type RegisterEgressSecretRequest = z.input<typeof RegisterEgressSecretRequestSchema>;

/** A secret as people see it: never its value. */
export const EgressSecretSchema = z.object({
  id: z.number().int(),
  host: z.string(),
  header: z.string(),
  description: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type EgressSecret = z.infer<typeof EgressSecretSchema>;

/** `GET /api/egress/policy/:agentId` (node daemons only): what the proxy enforces and injects for an agent. */
export const EgressPolicySchema = z.object({
  agentId: z.string(),
  tier: z.object({ level: z.number().int(), name: z.string() }),
  /** Host patterns the agent's tier allows (empty for a quarantined agent). */
  hosts: z.array(z.string()),
  secrets: z.array(z.object({ id: z.number().int(), host: z.string(), header: z.string(), value: z.string() })),
});
export type EgressPolicy = z.infer<typeof EgressPolicySchema>;

export const EGRESS_SCHEMES = ['http', 'https', 'connect'] as const;

/** One outbound request, as the proxy reports it. */
export const EgressRequestReportSchema = z
  .object({
    agentId: z.string().min(1).max(64),
    method: z.string().min(1).max(16),
    scheme: z.enum(EGRESS_SCHEMES),
    host: z.string().min(1).max(255),
    port: z.number().int().min(0).max(65535),
    path: z.string().max(2048).default(''),
    allowed: z.boolean(),
    reason: z.string().max(500).nullable().default(null),
    status: z.number().int().min(0).max(999),
    bytesOut: z.number().int().nonnegative(),
    bytesIn: z.number().int().nonnegative(),
    secretId: z.number().int().nullable().default(null),
    durationMs: z.number().int().nonnegative(),
    startedAt: z.iso.datetime(),
  })
  .strict();
export type EgressRequestReport = z.input<typeof EgressRequestReportSchema>;

/** `POST /api/egress/requests` (node daemons): a batch of the proxy's log. */
export const EgressRequestBatchSchema = z
  .object({ requests: z.array(EgressRequestReportSchema).min(1).max(500) })
  .strict();

export const EgressReportResultSchema = z.object({
  recorded: z.number().int(),
  /** Requests of agents that do not exist (any more): not stored. */
  skipped: z.number().int(),
});
export type EgressReportResult = z.infer<typeof EgressReportResultSchema>;

/** A logged outbound request (`GET /api/egress-requests`, moderators). */
export const EgressRequestSchema = z.object({
  id: z.number().int(),
  agentId: z.string(),
  node: z.string(),
  method: z.string(),
  scheme: z.enum(EGRESS_SCHEMES),
  host: z.string(),
  port: z.number().int(),
  path: z.string(),
  allowed: z.boolean(),
  reason: z.string().nullable(),
  status: z.number().int(),
  bytesOut: z.number().int(),
  bytesIn: z.number().int(),
  secretId: z.number().int().nullable(),
  durationMs: z.number().int(),
  startedAt: z.string(),
  createdAt: z.string(),
});
export type EgressRequest = z.infer<typeof EgressRequestSchema>;
export const EGRESS_REQUEST_SORT_FIELDS = ['id', 'startedAt', 'bytesIn', 'durationMs'] as const;
