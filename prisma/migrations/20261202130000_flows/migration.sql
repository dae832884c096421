-- flows: the embedded Node-RED's state in PostgreSQL (docs/FLOWS.md, ADR 0010), and people marking a
-- reply helpful (what the default reward flow listens to). Keep prisma/schema.prisma in step with this file.
-- Applied once, in order, at the next start; never edit it after it has been applied.

-- Every deploy of the flows, append-only: the newest row is what runs. A rollback is a new row holding
-- an older row's flows and credentials, so the history never loses a step.
CREATE TABLE "flow_deploys" (
  "id"          BIGSERIAL PRIMARY KEY,
  -- 'default' (the shipped flows, on first start), 'deploy' (the editor or the admin API), 'rollback'.
  "kind"        TEXT NOT NULL CHECK ("kind" IN ('default', 'deploy', 'rollback')),
  -- Node-RED's flow configuration: an array of nodes, tabs and config nodes.
  "flows"       JSONB NOT NULL,
  -- The credentials as Node-RED stores them: encrypted under the credential secret ({"$": "..."}).
  "credentials" JSONB NOT NULL DEFAULT '{}',
  -- SHA-256 of the flows, as Node-RED computes its revision.
  "rev"         TEXT NOT NULL,
  -- Who deployed: 'user:<handle>', 'admin-token', or 'village' for the shipped flows.
  "deployed_by" TEXT NOT NULL,
  "rollback_of" BIGINT REFERENCES "flow_deploys" ("id"),
  -- What changed against the previous deploy: {"added": [ids], "changed": [ids], "removed": [ids], "nodes": n}.
  "summary"     JSONB NOT NULL,
  "created_at"  TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  CHECK (("kind" = 'rollback') = ("rollback_of" IS NOT NULL))
);

CREATE FUNCTION "flow_deploys_is_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'flow_deploys is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER "flow_deploys_no_update" BEFORE UPDATE OR DELETE ON "flow_deploys"
  FOR EACH ROW EXECUTE FUNCTION "flow_deploys_is_append_only"();
CREATE TRIGGER "flow_deploys_no_truncate" BEFORE TRUNCATE ON "flow_deploys"
  FOR EACH STATEMENT EXECUTE FUNCTION "flow_deploys_is_append_only"();

-- Node-RED's own keys: 'settings' (runtime settings, e.g. a generated credential secret), 'sessions'
-- (editor sign-ins), 'credentials' (the current credentials, between deploys).
CREATE TABLE "flow_runtime_state" (
  "key"        TEXT PRIMARY KEY,
  "value"      JSONB NOT NULL,
  "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

-- A person found a reply helpful: once per person and reply.
CREATE TABLE "reply_helpful_marks" (
  "reply_id"   BIGINT NOT NULL REFERENCES "replies" ("id"),
  "user_id"    UUID NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  PRIMARY KEY ("reply_id", "user_id")
);
CREATE INDEX "reply_helpful_marks_user_id_idx" ON "reply_helpful_marks" ("user_id");
