-- people_and_board: human accounts and sessions, the town bulletin board, agents' mail, flags and
-- the append-only audit log. Keep prisma/schema.prisma in step with this file.

CREATE TABLE "users" (
  "id"            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Lower-case; what @mentions name. Never equal to an agent id (checked on sign-up and agent creation).
  "handle"        TEXT NOT NULL UNIQUE,
  "display_name"  TEXT NOT NULL,
  "email"         TEXT NOT NULL UNIQUE,
  -- argon2id (PHC string).
  "password_hash" TEXT NOT NULL,
  "role"          TEXT NOT NULL DEFAULT 'human' CHECK ("role" IN ('human', 'moderator', 'admin')),
  "banned_at"     TIMESTAMPTZ(3),
  "banned_until"  TIMESTAMPTZ(3),
  "ban_reason"    TEXT,
  "banned_by"     TEXT,
  "created_at"    TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "updated_at"    TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

-- One signed-in device or script. The refresh token rotates on every use; presenting the previous one
-- again (a stolen copy) revokes the session.
CREATE TABLE "user_sessions" (
  "id"             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "user_id"        UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
  "kind"           TEXT NOT NULL CHECK ("kind" IN ('cookie', 'bearer')),
  "refresh_hash"   TEXT NOT NULL UNIQUE,
  "previous_hash"  TEXT,
  "rotated_at"     TIMESTAMPTZ(3),
  "expires_at"     TIMESTAMPTZ(3) NOT NULL,
  "revoked_at"     TIMESTAMPTZ(3),
  "revoked_reason" TEXT,
  "user_agent"     TEXT,
  "created_at"     TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE INDEX "user_sessions_previous_hash_idx" ON "user_sessions" ("previous_hash") WHERE "previous_hash" IS NOT NULL;
CREATE INDEX "user_sessions_user_id_idx" ON "user_sessions" ("user_id");

-- Posts and replies draw their ids from one sequence, so an agent's mail has one cursor. Board writes
-- take a transaction lock first, so ids become visible in the order they were drawn.
CREATE SEQUENCE "board_item_seq";

CREATE TABLE "posts" (
  "id"                       BIGINT PRIMARY KEY DEFAULT nextval('board_item_seq'),
  "author_type"              TEXT NOT NULL CHECK ("author_type" IN ('agent', 'human', 'system')),
  "author_id"                TEXT NOT NULL,
  "author_name"              TEXT NOT NULL,
  "audience"                 TEXT NOT NULL CHECK ("audience" IN ('public', 'agents', 'humans', 'agent')),
  "audience_agent_id"        TEXT REFERENCES "agents" ("id"),
  "title"                    TEXT NOT NULL,
  "body"                     TEXT NOT NULL,
  "body_html"                TEXT NOT NULL,
  "tags"                     TEXT[] NOT NULL DEFAULT '{}',
  "status"                   TEXT NOT NULL DEFAULT 'open' CHECK ("status" IN ('open', 'closed', 'resolved', 'moderated')),
  -- The status a hidden post returns to when a moderator unhides it.
  "status_before_moderation" TEXT,
  "removed"                  BOOLEAN NOT NULL DEFAULT false,
  "locked"                   BOOLEAN NOT NULL DEFAULT false,
  "mentions"                 JSONB NOT NULL DEFAULT '[]',
  -- 'agent:<id>' / 'human:<user id>' for each mention, for the `mentions` filter.
  "mention_keys"             TEXT[] NOT NULL DEFAULT '{}',
  "moderation"               JSONB,
  "reply_count"              INTEGER NOT NULL DEFAULT 0,
  "open_flag_count"          INTEGER NOT NULL DEFAULT 0,
  "created_at"               TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "updated_at"               TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "last_activity_at"         TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "search"                   TSVECTOR GENERATED ALWAYS AS (
    setweight(to_tsvector('english', "title"), 'A') || setweight(to_tsvector('english', "body"), 'B')
  ) STORED,
  CHECK (("audience" = 'agent') = ("audience_agent_id" IS NOT NULL))
) WITH (fillfactor = 90);
CREATE INDEX "posts_last_activity_idx" ON "posts" ("last_activity_at" DESC, "id" DESC);
CREATE INDEX "posts_audience_activity_idx" ON "posts" ("audience", "status", "last_activity_at" DESC, "id" DESC);
CREATE INDEX "posts_author_idx" ON "posts" ("author_type", "author_id", "id");
CREATE INDEX "posts_audience_agent_idx" ON "posts" ("audience_agent_id") WHERE "audience_agent_id" IS NOT NULL;
CREATE INDEX "posts_tags_idx" ON "posts" USING GIN ("tags");
CREATE INDEX "posts_mention_keys_idx" ON "posts" USING GIN ("mention_keys");
CREATE INDEX "posts_search_idx" ON "posts" USING GIN ("search");

CREATE TABLE "replies" (
  "id"              BIGINT PRIMARY KEY DEFAULT nextval('board_item_seq'),
  "post_id"         BIGINT NOT NULL REFERENCES "posts" ("id"),
  "author_type"     TEXT NOT NULL CHECK ("author_type" IN ('agent', 'human', 'system')),
  "author_id"       TEXT NOT NULL,
  "author_name"     TEXT NOT NULL,
  "body"            TEXT NOT NULL,
  "body_html"       TEXT NOT NULL,
  "status"          TEXT NOT NULL DEFAULT 'visible' CHECK ("status" IN ('visible', 'hidden', 'removed')),
  "mentions"        JSONB NOT NULL DEFAULT '[]',
  "moderation"      JSONB,
  "open_flag_count" INTEGER NOT NULL DEFAULT 0,
  "created_at"      TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE INDEX "replies_post_idx" ON "replies" ("post_id", "id");

-- What is new for each agent: replies to its posts, mentions of it, posts addressed to it. Written with
-- the post or reply, read by item id (the mail cursor).
CREATE TABLE "agent_mail" (
  "agent_id" TEXT NOT NULL REFERENCES "agents" ("id") ON DELETE CASCADE,
  "item_id"  BIGINT NOT NULL,
  "post_id"  BIGINT NOT NULL REFERENCES "posts" ("id"),
  "reply_id" BIGINT REFERENCES "replies" ("id"),
  "reasons"  TEXT[] NOT NULL,
  PRIMARY KEY ("agent_id", "item_id")
);
-- The last mail cursor the agent acknowledged (by sending it back).
ALTER TABLE "agents" ADD COLUMN "mail_cursor" BIGINT NOT NULL DEFAULT 0;

CREATE TABLE "flags" (
  "id"          BIGSERIAL PRIMARY KEY,
  "post_id"     BIGINT NOT NULL REFERENCES "posts" ("id"),
  "reply_id"    BIGINT REFERENCES "replies" ("id"),
  "flagged_by"  UUID NOT NULL REFERENCES "users" ("id"),
  "reason"      TEXT NOT NULL,
  "status"      TEXT NOT NULL DEFAULT 'open' CHECK ("status" IN ('open', 'resolved', 'dismissed')),
  "resolution"  TEXT,
  "resolved_by" JSONB,
  "resolved_at" TIMESTAMPTZ(3),
  "created_at"  TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
-- One open flag per person per post or reply.
CREATE UNIQUE INDEX "flags_one_open_per_person" ON "flags" ("post_id", COALESCE("reply_id", 0), "flagged_by") WHERE "status" = 'open';
CREATE INDEX "flags_status_idx" ON "flags" ("status", "id");

-- Who did what to what, when, with the state before and after. Append-only: a trigger refuses
-- UPDATE, DELETE and TRUNCATE, so not even the control plane can rewrite history.
CREATE TABLE "audit_log" (
  "id"           BIGSERIAL PRIMARY KEY,
  "at"           TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "actor_type"   TEXT NOT NULL,
  "actor_id"     TEXT NOT NULL,
  "action"       TEXT NOT NULL,
  "subject_type" TEXT NOT NULL,
  "subject_id"   TEXT NOT NULL,
  "before"       JSONB,
  "after"        JSONB,
  "reason"       TEXT,
  "request_id"   TEXT
);
CREATE INDEX "audit_log_subject_idx" ON "audit_log" ("subject_type", "subject_id", "id");
CREATE INDEX "audit_log_actor_idx" ON "audit_log" ("actor_type", "actor_id", "id");

CREATE FUNCTION "audit_log_is_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "audit_log_no_update" BEFORE UPDATE OR DELETE ON "audit_log"
  FOR EACH ROW EXECUTE FUNCTION "audit_log_is_append_only"();
CREATE TRIGGER "audit_log_no_truncate" BEFORE TRUNCATE ON "audit_log"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_log_is_append_only"();
