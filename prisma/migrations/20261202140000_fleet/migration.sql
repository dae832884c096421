-- fleet: the Docker engine of each node and what it reports, and each agent's desired and observed
-- container (docs/OPERATIONS.md, docs/DEPLOYMENT.md, ADR 0014). Keep prisma/schema.prisma in step with
-- this file. Applied once, in order, at the next start; never edit it after it has been applied.

-- A node's Docker engine: none (a node of daemons only), a local Unix socket, or TCP with TLS. The
-- client key is sealed with VILLAGE_SECRETS_KEY (bound to the node's name) and never returned by the API.
ALTER TABLE "nodes"
  ADD COLUMN "engine_kind"        TEXT NOT NULL DEFAULT 'none' CHECK ("engine_kind" IN ('none', 'socket', 'tcp')),
  ADD COLUMN "engine_socket"      TEXT,
  ADD COLUMN "engine_host"        TEXT,
  ADD COLUMN "engine_port"        INTEGER CHECK ("engine_port" BETWEEN 1 AND 65535),
  ADD COLUMN "engine_tls_ca"      TEXT,
  ADD COLUMN "engine_tls_cert"    TEXT,
  ADD COLUMN "engine_tls_key"     TEXT,
  -- How the node's agent containers reach the village: through the node's egress proxy (sockets under
  -- egress_dir, on the node's own disk) or the host's network and village_url.
  ADD COLUMN "agent_network"      TEXT NOT NULL DEFAULT 'egress-proxy' CHECK ("agent_network" IN ('egress-proxy', 'host')),
  ADD COLUMN "egress_dir"         TEXT NOT NULL DEFAULT '/run/village/egress',
  ADD COLUMN "village_url"        TEXT,
  -- An admin's "place nothing new here"; agents already there stay.
  ADD COLUMN "cordoned"           BOOLEAN NOT NULL DEFAULT false,
  -- What the reconcile loop last saw of the engine.
  ADD COLUMN "state"              TEXT NOT NULL DEFAULT 'unknown' CHECK ("state" IN ('unknown', 'ready', 'down')),
  ADD COLUMN "state_error"        TEXT,
  ADD COLUMN "state_changed_at"   TIMESTAMPTZ(3),
  ADD COLUMN "checked_at"         TIMESTAMPTZ(3),
  ADD COLUMN "engine_version"     TEXT,
  -- Capacity as the engine reports it (CPUs, memory) and the GPU inventory as the node's reporter sends it.
  ADD COLUMN "cpus"               NUMERIC(8, 2),
  ADD COLUMN "memory_mb"          INTEGER,
  ADD COLUMN "gpus"               JSONB NOT NULL DEFAULT '[]',
  ADD CONSTRAINT "nodes_engine_check" CHECK (
    ("engine_kind" = 'none') OR
    ("engine_kind" = 'socket' AND "engine_socket" IS NOT NULL) OR
    ("engine_kind" = 'tcp' AND "engine_host" IS NOT NULL AND "engine_port" IS NOT NULL)),
  ADD CONSTRAINT "nodes_network_check" CHECK ("agent_network" = 'egress-proxy' OR "village_url" IS NOT NULL);

-- This village's name on the engines it drives: every container it creates carries it as a label, so
-- that containers of another village (or of tests) on the same engine are never taken for strays.
CREATE TABLE "fleet_identity" (
  "id"         INTEGER PRIMARY KEY DEFAULT 1 CHECK ("id" = 1),
  "village_id" TEXT NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '')
);
INSERT INTO "fleet_identity" DEFAULT VALUES;

-- Each agent the fleet runs: where, what it should be doing (desired) and what its container was last
-- seen doing (observed). The reconcile loop converges the second on the first, one row lock at a time.
CREATE TABLE "fleet_agents" (
  "agent_id"        TEXT PRIMARY KEY REFERENCES "agents" ("id") ON DELETE CASCADE,
  "node"            TEXT REFERENCES "nodes" ("name"),
  -- running; paused (by "pause all"); frozen (one agent, by an admin); stopped (killed or token
  -- revoked: no container runs); quarantined (frozen, token revoked, tier held at 0, no egress).
  "desired"         TEXT NOT NULL CHECK ("desired" IN ('running', 'paused', 'frozen', 'stopped', 'quarantined')),
  "desired_reason"  TEXT,
  "desired_by"      TEXT NOT NULL,
  "desired_at"      TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  -- Labels a node must carry to run this agent (placement).
  "node_selector"   JSONB NOT NULL DEFAULT '{}',
  -- The image to run; NULL is the village's default (VILLAGE_AGENT_IMAGE).
  "image"           TEXT,
  "container_id"    TEXT,
  "observed"        TEXT NOT NULL DEFAULT 'none'
                    CHECK ("observed" IN ('none', 'created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing', 'unknown')),
  "health"          TEXT,
  "exit_code"       INTEGER,
  -- Containers created since the last one that ran healthily for a while: picks the back-off.
  "restarts"        INTEGER NOT NULL DEFAULT 0,
  "last_error"      TEXT,
  "next_attempt_at" TIMESTAMPTZ(3),
  "started_at"      TIMESTAMPTZ(3),
  "observed_at"     TIMESTAMPTZ(3),
  "created_at"      TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  CONSTRAINT "fleet_agents_placed_check" CHECK ("node" IS NOT NULL OR "container_id" IS NULL)
);
CREATE INDEX "fleet_agents_node_idx" ON "fleet_agents" ("node");
CREATE INDEX "fleet_agents_desired_idx" ON "fleet_agents" ("desired");
