-- gpu_usage: what each node's GPU reporter saw through nvidia-smi (one row per compute process and
-- sample) and what each agent was billed for its GPU share (one row per agent and billing window).
-- Keep prisma/schema.prisma in step with this file. Applied once, in order; never edit it after it has
-- been applied. docs/ECONOMY.md (GPU prices) and docs/adr/0015-gpu-share-billing.md explain them.

-- One bill: an agent's GPU samples of one billing window, priced at its tier's GPU price and taken from
-- its account (as much as it had). Part 0 is the window's bill; samples that arrive after it are billed
-- in parts 1, 2, ... The unique key and the sample rows it claims make each sample billed once.
CREATE TABLE "gpu_usage" (
  "id"                     BIGSERIAL PRIMARY KEY,
  "agent_id"               TEXT NOT NULL REFERENCES "agents" ("id"),
  "window_start"           TIMESTAMPTZ(3) NOT NULL,
  "window_end"             TIMESTAMPTZ(3) NOT NULL,
  "part"                   INTEGER NOT NULL DEFAULT 0 CHECK ("part" >= 0),
  "samples"                INTEGER NOT NULL CHECK ("samples" > 0),
  "gpu_seconds"            DOUBLE PRECISION NOT NULL CHECK ("gpu_seconds" >= 0),
  "gpu_memory_gib_seconds" DOUBLE PRECISION NOT NULL CHECK ("gpu_memory_gib_seconds" >= 0),
  "tier"                   INTEGER NOT NULL,
  -- The tier's price when billed (mills per GPU-hour and per GiB-hour of GPU memory).
  "price_gpu_hour"         BIGINT NOT NULL,
  "price_memory_gib_hour"  BIGINT NOT NULL,
  -- The exact price of the use (mills, unrounded), and what is carried to the agent's next bill: each
  -- bill charges the nearest whole mill of its price plus the carry, so nothing is lost to rounding.
  "cost_exact"             DOUBLE PRECISION NOT NULL CHECK ("cost_exact" >= 0),
  "carry"                  DOUBLE PRECISION NOT NULL,
  "cost"                   BIGINT NOT NULL CHECK ("cost" >= 0),
  "charged"                BIGINT NOT NULL CHECK ("charged" >= 0),
  "shortfall"              BIGINT NOT NULL CHECK ("shortfall" >= 0),
  "status"                 TEXT NOT NULL CHECK ("status" IN ('charged', 'partial', 'unpaid', 'free')),
  "transfer_id"            BIGINT UNIQUE REFERENCES "ledger_transfers" ("id"),
  "created_at"             TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  CHECK ("charged" + "shortfall" = "cost"),
  CHECK ("window_end" > "window_start"),
  UNIQUE ("agent_id", "window_start", "part")
);
CREATE INDEX "gpu_usage_window_start_idx" ON "gpu_usage" ("window_start");
-- The agent's latest bill (its carry).
CREATE INDEX "gpu_usage_agent_id_id_idx" ON "gpu_usage" ("agent_id", "id");

-- One compute process on one GPU device at one sample, as a node reported it. The key (node, sample
-- time, device, PID) makes a replayed delivery change nothing. An agent's row is billed once: the bill
-- that takes it sets usage_id in the same transaction as the ledger transfer.
CREATE TABLE "gpu_samples" (
  "id"                     BIGSERIAL PRIMARY KEY,
  "node"                   TEXT NOT NULL REFERENCES "nodes" ("name"),
  "sampled_at"             TIMESTAMPTZ(3) NOT NULL,
  "period_ms"              INTEGER NOT NULL CHECK ("period_ms" > 0),
  "device_uuid"            TEXT NOT NULL,
  "gpu_uuid"               TEXT NOT NULL,
  "gpu_index"              INTEGER NOT NULL,
  "gpu_name"               TEXT NOT NULL,
  "mig_profile"            TEXT,
  "fraction"               DOUBLE PRECISION NOT NULL CHECK ("fraction" BETWEEN 0 AND 1),
  "utilization_percent"    SMALLINT,
  "pid"                    INTEGER NOT NULL,
  "used_memory_mib"        INTEGER,
  "container_id"           TEXT,
  -- The agent the node named; agent_id is set only when the village knows it (and only then billed).
  "reported_agent_id"      TEXT,
  "agent_id"               TEXT REFERENCES "agents" ("id"),
  "attribution"            TEXT NOT NULL
    CHECK ("attribution" IN ('agent', 'no_container', 'not_an_agent', 'unknown_agent', 'lookup_failed')),
  "gpu_seconds"            DOUBLE PRECISION NOT NULL CHECK ("gpu_seconds" >= 0),
  "gpu_memory_gib_seconds" DOUBLE PRECISION NOT NULL CHECK ("gpu_memory_gib_seconds" >= 0),
  "usage_id"               BIGINT REFERENCES "gpu_usage" ("id"),
  "received_at"            TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  CHECK (("attribution" = 'agent') = ("agent_id" IS NOT NULL)),
  CHECK ("usage_id" IS NULL OR "agent_id" IS NOT NULL)
);
CREATE UNIQUE INDEX "gpu_samples_key" ON "gpu_samples" ("node", "sampled_at", "device_uuid", "pid");
-- The biller's work list: attributed samples not billed yet.
CREATE INDEX "gpu_samples_unbilled_idx" ON "gpu_samples" ("agent_id", "sampled_at")
  WHERE "usage_id" IS NULL AND "agent_id" IS NOT NULL;
CREATE INDEX "gpu_samples_agent_id_id_idx" ON "gpu_samples" ("agent_id", "id");
CREATE INDEX "gpu_samples_usage_id_idx" ON "gpu_samples" ("usage_id");
CREATE INDEX "gpu_samples_attribution_id_idx" ON "gpu_samples" ("attribution", "id") WHERE "attribution" <> 'agent';
