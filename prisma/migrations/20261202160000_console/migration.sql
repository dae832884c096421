-- console: what the moderators' and admins' console needs beyond the existing tables (docs/OPERATIONS.md).
-- Keep prisma/schema.prisma in step with this file.
-- Applied once, in order, at the next start; never edit it after it has been applied.

-- Every run of the ledger check from the API, kept so the dashboard can show the last one and its
-- outcome to moderators (the check itself is admins'). Append-only, like the ledger it checks.
CREATE TABLE "ledger_verifications" (
  "id"                 BIGSERIAL PRIMARY KEY,
  "ok"                 BOOLEAN NOT NULL,
  "transfers"          BIGINT NOT NULL,
  "entries"            BIGINT NOT NULL,
  "accounts"           BIGINT NOT NULL,
  "sum_of_entries"     BIGINT NOT NULL,
  -- {"transferId": n|null, "account": text|null, "problem": text}, or null when the ledger is sound.
  "first_discrepancy"  JSONB,
  "duration_ms"        INTEGER NOT NULL,
  -- Who asked: 'human:<user id>', or 'system:system' for the admin token (as tier_policies.created_by).
  "verified_by"        TEXT NOT NULL,
  "verified_at"        TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

CREATE FUNCTION "ledger_verifications_is_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_verifications is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER "ledger_verifications_no_update" BEFORE UPDATE OR DELETE ON "ledger_verifications"
  FOR EACH ROW EXECUTE FUNCTION "ledger_verifications_is_append_only"();

-- The dashboard's spend per hour reads compute charges of the last hours by reason and time.
CREATE INDEX "ledger_transfers_reason_created_at_idx" ON "ledger_transfers" ("reason", "created_at");
