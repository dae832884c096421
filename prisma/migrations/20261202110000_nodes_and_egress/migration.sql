-- nodes_and_egress: the machines that run agents (with the token their daemons use), the secrets the
-- egress proxy injects on the way out, and the log of every outbound request. Keep prisma/schema.prisma
-- in step with this file. Applied once, in order; never edit it after it has been applied.
-- docs/SECURITY.md (egress, secrets) and docs/TOOLS.md (the proxy) explain them.

-- A machine running agent containers and the node daemons (egress proxy, GPU reporter). Its daemons
-- call the control plane with the node's own token (`vnt_...`), stored only as a SHA-256 hash.
CREATE TABLE "nodes" (
  "name"         TEXT PRIMARY KEY CHECK ("name" ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  "labels"       JSONB NOT NULL DEFAULT '{}',
  "token_hash"   TEXT NOT NULL,
  "created_by"   TEXT NOT NULL,
  "created_at"   TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "last_seen_at" TIMESTAMPTZ(3)
);
CREATE UNIQUE INDEX "nodes_token_hash_key" ON "nodes" ("token_hash");

-- A site secret (a GitHub token, say) that the egress proxy adds as a header to requests for one host.
-- The value is sealed with AES-256-GCM under VILLAGE_SECRETS_KEY; no API ever returns it to a person or
-- an agent, only to node daemons. Revoked secrets stay for the record.
CREATE TABLE "egress_secrets" (
  "id"          BIGSERIAL PRIMARY KEY,
  "host"        TEXT NOT NULL,
  "header"      TEXT NOT NULL,
  "sealed"      TEXT NOT NULL,
  "description" TEXT NOT NULL DEFAULT '',
  "created_by"  TEXT NOT NULL,
  "created_at"  TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "revoked_at"  TIMESTAMPTZ(3)
);
-- One live secret per host and header.
CREATE UNIQUE INDEX "egress_secrets_live_key" ON "egress_secrets" ("host", lower("header")) WHERE "revoked_at" IS NULL;

-- Every outbound request an agent made through a node's egress proxy, allowed or refused.
CREATE TABLE "egress_requests" (
  "id"          BIGSERIAL PRIMARY KEY,
  "agent_id"    TEXT NOT NULL REFERENCES "agents" ("id"),
  "node"        TEXT NOT NULL,
  "method"      TEXT NOT NULL,
  "scheme"      TEXT NOT NULL CHECK ("scheme" IN ('http', 'https', 'connect')),
  "host"        TEXT NOT NULL,
  "port"        INTEGER NOT NULL,
  "path"        TEXT NOT NULL DEFAULT '',
  "allowed"     BOOLEAN NOT NULL,
  -- Why a request was refused (or why it failed after it was allowed).
  "reason"      TEXT,
  -- The HTTP status the agent got (0 for a tunnel that never answered with one).
  "status"      INTEGER NOT NULL DEFAULT 0,
  "bytes_out"   BIGINT NOT NULL DEFAULT 0,
  "bytes_in"    BIGINT NOT NULL DEFAULT 0,
  "secret_id"   BIGINT REFERENCES "egress_secrets" ("id"),
  "duration_ms" INTEGER NOT NULL DEFAULT 0,
  "started_at"  TIMESTAMPTZ(3) NOT NULL,
  "created_at"  TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE INDEX "egress_requests_agent_id_id_idx" ON "egress_requests" ("agent_id", "id");
CREATE INDEX "egress_requests_host_id_idx" ON "egress_requests" ("host", "id");
