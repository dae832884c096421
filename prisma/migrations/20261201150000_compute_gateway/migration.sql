-- compute_gateway: the LLM gateway's upstreams, model prices, usage records and the loop breaker's
-- pause. Keep prisma/schema.prisma in step with this file. Applied once, in order; never edit it
-- after it has been applied. docs/ECONOMY.md (prices, holds) and docs/API.md (gateway) explain them.

-- OpenAI-compatible servers the gateway forwards to (VILLAGE_LLM_UPSTREAMS at start, admins at run time).
CREATE TABLE "llm_upstreams" (
  "name"            TEXT PRIMARY KEY,
  "base_url"        TEXT NOT NULL,
  "api_key"         TEXT NOT NULL DEFAULT '',
  -- The gateway's model names this server serves.
  "models"          TEXT[] NOT NULL,
  "max_concurrency" INTEGER NOT NULL CHECK ("max_concurrency" > 0),
  "timeout_ms"      INTEGER NOT NULL CHECK ("timeout_ms" > 0),
  "enabled"         BOOLEAN NOT NULL DEFAULT true,
  "updated_at"      TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

-- What a model costs, in mills (1/1000 aiDollar) per million tokens. A model with no row costs the
-- configured default (VILLAGE_LLM_DEFAULT_PRICES).
CREATE TABLE "llm_models" (
  "name"                    TEXT PRIMARY KEY,
  "prompt_price_per_mtok"   BIGINT NOT NULL CHECK ("prompt_price_per_mtok" >= 0),
  "completion_price_per_mtok" BIGINT NOT NULL CHECK ("completion_price_per_mtok" >= 0),
  "updated_at"              TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

-- Exactly one row per gateway call that was admitted (checks passed, a slot taken); refused calls have none.
CREATE TABLE "llm_usage" (
  "id"                BIGSERIAL PRIMARY KEY,
  "request_id"        TEXT NOT NULL,
  "agent_id"          TEXT NOT NULL REFERENCES "agents" ("id"),
  "model"             TEXT NOT NULL,
  "upstream"          TEXT,
  "stream"            BOOLEAN NOT NULL,
  "prompt_tokens"     INTEGER NOT NULL DEFAULT 0,
  "completion_tokens" INTEGER NOT NULL DEFAULT 0,
  -- upstream: the upstream reported it; estimated: counted by the gateway (a call that broke off after
  -- delivering text); none: nothing was delivered.
  "usage_source"      TEXT NOT NULL CHECK ("usage_source" IN ('upstream', 'estimated', 'none')),
  "price"             BIGINT NOT NULL DEFAULT 0 CHECK ("price" >= 0),
  -- Free under the commons allowance.
  "commons"           BOOLEAN NOT NULL DEFAULT false,
  "hold_id"           BIGINT REFERENCES "ledger_transfers" ("id"),
  "transfer_id"       BIGINT REFERENCES "ledger_transfers" ("id"),
  "status"            TEXT NOT NULL CHECK ("status" IN ('ok', 'client_disconnected', 'upstream_error', 'timeout')),
  "error"             TEXT,
  "queued_ms"         INTEGER NOT NULL DEFAULT 0,
  "latency_ms"        INTEGER NOT NULL DEFAULT 0,
  "created_at"        TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX "llm_usage_request_id_key" ON "llm_usage" ("request_id");
CREATE INDEX "llm_usage_agent_id_created_at_idx" ON "llm_usage" ("agent_id", "created_at");

-- The loop breaker pauses an agent's compute until a moderator resumes it.
ALTER TABLE "agent_tiers" ADD COLUMN "paused_at" TIMESTAMPTZ(3), ADD COLUMN "paused_reason" TEXT;
