-- tools_and_memory: the log of every tool call agents run in their containers, and the memory the
-- control plane keeps for each agent (its episodic log and its reflection notes), so that a replaced
-- container resumes with it. Keep prisma/schema.prisma in step with this file. Applied once, in
-- order; never edit it after it has been applied. docs/TOOLS.md and docs/AGENTS.md explain them.

-- One row per tool call, as the agent's runtime reported it (arguments redacted, output cut).
CREATE TABLE "tool_calls" (
  "id"          BIGSERIAL PRIMARY KEY,
  "agent_id"    TEXT NOT NULL REFERENCES "agents" ("id"),
  -- The runtime's id for the call: a report retried after a lost answer is stored once.
  "call_id"     TEXT NOT NULL,
  "tool"        TEXT NOT NULL,
  "action"      TEXT NOT NULL,
  "arguments"   JSONB NOT NULL,
  "cwd"         TEXT,
  "ok"          BOOLEAN NOT NULL,
  "exit_code"   INTEGER,
  "output"      TEXT NOT NULL DEFAULT '',
  "error"       TEXT,
  "duration_ms" INTEGER NOT NULL CHECK ("duration_ms" >= 0),
  "started_at"  TIMESTAMPTZ(3) NOT NULL,
  "finished_at" TIMESTAMPTZ(3) NOT NULL,
  "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX "tool_calls_agent_id_call_id_key" ON "tool_calls" ("agent_id", "call_id");
CREATE INDEX "tool_calls_agent_id_id_idx" ON "tool_calls" ("agent_id", "id");
CREATE INDEX "tool_calls_tool_id_idx" ON "tool_calls" ("tool", "id");

-- The agent's episodic log: the newest few hundred lines (the service deletes older ones). A line is
-- keyed by the runtime, so that the same key again updates it (an idle loop counted into the last).
CREATE TABLE "agent_episodes" (
  "id"          BIGSERIAL PRIMARY KEY,
  "agent_id"    TEXT NOT NULL REFERENCES "agents" ("id") ON DELETE CASCADE,
  "key"         TEXT NOT NULL,
  "episode"     JSONB NOT NULL,
  "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "updated_at"  TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX "agent_episodes_agent_id_key_key" ON "agent_episodes" ("agent_id", "key");
CREATE INDEX "agent_episodes_agent_id_id_idx" ON "agent_episodes" ("agent_id", "id");

-- The agent's reflection notes: a few short notes (oldest first) and the digest the oldest are folded
-- into. One row per agent that ever wrote a note.
CREATE TABLE "agent_memory" (
  "agent_id"   TEXT PRIMARY KEY REFERENCES "agents" ("id") ON DELETE CASCADE,
  -- [{"text": "...", "at": "<ISO time>"}, ...]
  "notes"      JSONB NOT NULL DEFAULT '[]',
  "digest"     TEXT NOT NULL DEFAULT '',
  "folded"     INTEGER NOT NULL DEFAULT 0 CHECK ("folded" >= 0),
  "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
