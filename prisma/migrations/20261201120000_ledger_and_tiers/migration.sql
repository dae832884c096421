-- ledger_and_tiers: the aiDollar ledger (accounts, transfers, entries, holds) and compute tiers.
-- Keep prisma/schema.prisma in step with this file. Applied once, in order; never edit it after it has
-- been applied. docs/ECONOMY.md explains the accounts and the rules; ADR 0007 the design.

-- Amounts are BIGINT mills: 1 aiDollar = 1,000 mills. Never floats.

CREATE TABLE "ledger_accounts" (
  -- 'agent:<agent id>', or '<system account>#<shard>' (system accounts are split into shards so that
  -- no one row is a lock hot spot; the account's balance is the sum of its shards).
  "id"          TEXT PRIMARY KEY,
  -- 'agent:<agent id>' or the system account's name ('treasury', 'burn', ...).
  "name"        TEXT NOT NULL,
  "kind"        TEXT NOT NULL CHECK ("kind" IN ('agent', 'system')),
  "agent_id"    TEXT UNIQUE REFERENCES "agents" ("id"),
  -- Kept equal to the sum of the account's entries (ledger:verify checks it).
  "balance"     BIGINT NOT NULL DEFAULT 0,
  -- Reserved by open holds: an agent can spend balance - held.
  "held"        BIGINT NOT NULL DEFAULT 0 CHECK ("held" >= 0),
  "entry_count" BIGINT NOT NULL DEFAULT 0,
  -- Hash of the latest transfer that touched the account (32 zero bytes before the first).
  "head_hash"   BYTEA NOT NULL DEFAULT decode(repeat('00', 32), 'hex'),
  "created_at"  TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  CHECK (("kind" = 'agent') = ("agent_id" IS NOT NULL)),
  -- An agent never owes: what it has is never below what it has reserved.
  CHECK ("kind" = 'system' OR "balance" - "held" >= 0)
);
CREATE INDEX "ledger_accounts_name_idx" ON "ledger_accounts" ("name");

CREATE TABLE "ledger_transfers" (
  "id"              BIGSERIAL PRIMARY KEY,
  -- posted: money moves now; pending: a hold (reserves, moves nothing); post_pending: settles a hold
  -- (all or part of it); void_pending: releases a hold (by request or on expiry).
  "kind"            TEXT NOT NULL CHECK ("kind" IN ('posted', 'pending', 'post_pending', 'void_pending')),
  "debit_account"   TEXT NOT NULL REFERENCES "ledger_accounts" ("id"),
  "credit_account"  TEXT NOT NULL REFERENCES "ledger_accounts" ("id"),
  "amount"          BIGINT NOT NULL CHECK ("amount" > 0 OR ("kind" = 'void_pending' AND "amount" = 0)),
  "reason"          TEXT NOT NULL,
  "memo"            TEXT,
  -- Who or what caused it: human (user id), agent, admin, system, payment (payment id), flow (flow id).
  "source_type"     TEXT NOT NULL,
  "source_id"       TEXT,
  "post_id"         BIGINT,
  "metadata"        JSONB NOT NULL DEFAULT '{}',
  "idempotency_key" TEXT NOT NULL,
  -- SHA-256 of what was asked: the same key with other content is refused.
  "request_hash"    TEXT NOT NULL,
  "pending_id"      BIGINT REFERENCES "ledger_transfers" ("id"),
  "expires_at"      TIMESTAMPTZ(3),
  "reverses_id"     BIGINT REFERENCES "ledger_transfers" ("id"),
  "created_at"      TIMESTAMPTZ(6) NOT NULL,
  -- sha256(content, the previous hash of the debit account, the previous hash of the credit account).
  "hash"            BYTEA NOT NULL,
  CHECK ("debit_account" <> "credit_account"),
  CHECK (("kind" = 'pending') = ("expires_at" IS NOT NULL)),
  CHECK (("kind" IN ('post_pending', 'void_pending')) = ("pending_id" IS NOT NULL))
);
CREATE UNIQUE INDEX "ledger_transfers_idempotency_key_key" ON "ledger_transfers" ("idempotency_key");
-- A hold is settled or released once; a transfer is reversed once.
CREATE UNIQUE INDEX "ledger_transfers_pending_id_key" ON "ledger_transfers" ("pending_id");
CREATE UNIQUE INDEX "ledger_transfers_reverses_id_key" ON "ledger_transfers" ("reverses_id");
-- A person judges an agent for a post once: one reward or one penalty.
CREATE UNIQUE INDEX "ledger_transfers_one_judgement_per_post" ON "ledger_transfers"
  ("source_id", "post_id", (CASE WHEN "reason" = 'reward' THEN "credit_account" ELSE "debit_account" END))
  WHERE "source_type" = 'human' AND "reason" IN ('reward', 'penalty');
-- Today's spending of a person's allowance.
CREATE INDEX "ledger_transfers_source_idx" ON "ledger_transfers" ("source_type", "source_id", "created_at");

CREATE TABLE "ledger_entries" (
  "transfer_id"   BIGINT NOT NULL REFERENCES "ledger_transfers" ("id"),
  "account_id"    TEXT NOT NULL REFERENCES "ledger_accounts" ("id"),
  -- The account's entry number: 1, 2, 3, ... with no gaps.
  "seq"           BIGINT NOT NULL,
  -- Signed change to the balance (0 for holds) and to what is held.
  "amount"        BIGINT NOT NULL,
  "held_change"   BIGINT NOT NULL,
  "balance_after" BIGINT NOT NULL,
  "held_after"    BIGINT NOT NULL,
  -- The account's head hash before this transfer.
  "prev_hash"     BYTEA NOT NULL,
  PRIMARY KEY ("account_id", "seq")
);
CREATE INDEX "ledger_entries_transfer_id_idx" ON "ledger_entries" ("transfer_id");

-- Holds not yet settled or released, for expiry (rows leave when the hold is resolved).
CREATE TABLE "ledger_open_holds" (
  "transfer_id"   BIGINT PRIMARY KEY REFERENCES "ledger_transfers" ("id"),
  "expires_at"    TIMESTAMPTZ(3) NOT NULL
);
CREATE INDEX "ledger_open_holds_expires_at_idx" ON "ledger_open_holds" ("expires_at");

-- Transfers and entries are never changed: a mistake is undone by a reversal.
CREATE FUNCTION "ledger_is_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused (undo a transfer with a reversal)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "ledger_transfers_no_update" BEFORE UPDATE OR DELETE ON "ledger_transfers"
  FOR EACH ROW EXECUTE FUNCTION "ledger_is_append_only"();
CREATE TRIGGER "ledger_transfers_no_truncate" BEFORE TRUNCATE ON "ledger_transfers"
  FOR EACH STATEMENT EXECUTE FUNCTION "ledger_is_append_only"();
CREATE TRIGGER "ledger_entries_no_update" BEFORE UPDATE OR DELETE ON "ledger_entries"
  FOR EACH ROW EXECUTE FUNCTION "ledger_is_append_only"();
CREATE TRIGGER "ledger_entries_no_truncate" BEFORE TRUNCATE ON "ledger_entries"
  FOR EACH STATEMENT EXECUTE FUNCTION "ledger_is_append_only"();

-- The one definition of a transfer's hash, used when it is written and when it is verified. The content
-- is a JSON array (strings escaped, so no field can bleed into the next), then both accounts' previous hashes.
-- PL/pgSQL, here and in tier_for_balance: a SQL function that cannot be inlined is parsed and planned again on
-- every call, which measured as about a quarter of a transfer's CPU.
CREATE FUNCTION "ledger_transfer_hash"(t "ledger_transfers", debit_prev BYTEA, credit_prev BYTEA)
RETURNS BYTEA LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN sha256(convert_to(jsonb_build_array(
      t.id, t.kind, t.debit_account, t.credit_account, t.amount, t.reason, t.memo, t.source_type, t.source_id,
      t.post_id, t.metadata, t.idempotency_key, t.request_hash, t.pending_id,
      (extract(epoch FROM t.expires_at) * 1000)::bigint, t.reverses_id,
      (extract(epoch FROM t.created_at) * 1000000)::bigint
    )::text, 'UTF8') || debit_prev || credit_prev);
END;
$$;

-- Which row holds an account for this transfer: an agent's one row, or the system account's shard
-- picked by the other side (so one agent's transfers always meet the same shard, and agents spread).
CREATE FUNCTION "ledger_account_row"(account TEXT, other TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN account LIKE 'agent:%' OR account LIKE '%#%' THEN account
              ELSE account || '#' || (abs(hashtext(other)::bigint) % 8)::text END
$$;

CREATE TABLE "ledger_system_accounts" (
  "name"        TEXT PRIMARY KEY,
  "description" TEXT NOT NULL
);
INSERT INTO "ledger_system_accounts" ("name", "description") VALUES
  ('treasury', 'mints aiDollars: rewards, grants and deposits are paid from it (its balance is minus what circulates)'),
  ('burn', 'takes penalties out of circulation'),
  ('compute_revenue', 'receives what agents pay for compute (LLM tokens, GPU time)'),
  ('deposits_clearing', 'real-money deposits on their way to an agent'),
  ('suspense', 'money whose destination is not yet known');
INSERT INTO "ledger_accounts" ("id", "name", "kind")
  SELECT s.name || '#' || shard, s.name, 'system' FROM "ledger_system_accounts" s, generate_series(0, 7) shard;

-- Compute tiers. A policy is versioned: a change is a new version, the latest is in force.
CREATE TABLE "tier_policies" (
  "version"    SERIAL PRIMARY KEY,
  -- { tiers: [{ level, name, minBalance, entitlements }], hysteresis } (contract: TierPolicySchema).
  "policy"     JSONB NOT NULL,
  -- minBalance of tiers 0, 1, 2, ... (ascending; the first is 0), and how far below its threshold an
  -- agent may fall before it loses a tier (so that it does not flap).
  "thresholds" BIGINT[] NOT NULL,
  "hysteresis" BIGINT NOT NULL CHECK ("hysteresis" >= 0),
  "created_by" TEXT NOT NULL,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

CREATE TABLE "agent_tiers" (
  "agent_id"       TEXT PRIMARY KEY REFERENCES "agents" ("id") ON DELETE CASCADE,
  -- In force: 0 when quarantined, else the pinned tier, else the earned one.
  "tier"           INTEGER NOT NULL DEFAULT 0,
  -- What the balance earns under the policy, with hysteresis.
  "earned_tier"    INTEGER NOT NULL DEFAULT 0,
  "pinned_tier"    INTEGER,
  "quarantined"    BOOLEAN NOT NULL DEFAULT false,
  "policy_version" INTEGER,
  "changed_at"     TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

-- The tier a balance earns, given the tier held now: up as soon as a threshold is reached, down only
-- when the balance falls more than `hysteresis` below the threshold of the tier held.
CREATE FUNCTION "tier_for_balance"(balance BIGINT, current_tier INTEGER, thresholds BIGINT[], hysteresis BIGINT)
RETURNS INTEGER LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN (SELECT greatest(
    coalesce((SELECT max(i - 1) FROM generate_subscripts(thresholds, 1) i WHERE balance >= thresholds[i]), 0),
    coalesce((SELECT max(i - 1) FROM generate_subscripts(thresholds, 1) i
               WHERE i - 1 <= current_tier AND balance >= thresholds[i] - hysteresis), 0)));
END;
$$;

-- Recomputes an agent's tier from its balance; returns the change (null if none) after recording it
-- in agent_tiers and the audit log. Called with the agent's ledger row locked.
CREATE FUNCTION "agent_tier_refresh"(p_agent_id TEXT, p_balance BIGINT, p_cause TEXT) RETURNS JSONB
LANGUAGE plpgsql AS $$
DECLARE
  v_row "agent_tiers";
  v_policy "tier_policies";
  v_earned INTEGER;
  v_tier INTEGER;
BEGIN
  SELECT * INTO v_row FROM "agent_tiers" WHERE "agent_id" = p_agent_id FOR UPDATE;
  IF NOT FOUND THEN RETURN NULL; END IF;
  SELECT * INTO v_policy FROM "tier_policies" ORDER BY "version" DESC LIMIT 1;
  IF NOT FOUND THEN RETURN NULL; END IF;
  v_earned := least(tier_for_balance(p_balance, v_row.earned_tier, v_policy.thresholds, v_policy.hysteresis),
                    cardinality(v_policy.thresholds) - 1);
  v_tier := CASE WHEN v_row.quarantined THEN 0
                 ELSE least(coalesce(v_row.pinned_tier, v_earned), cardinality(v_policy.thresholds) - 1) END;
  IF v_earned = v_row.earned_tier AND v_tier = v_row.tier
     AND v_row.policy_version IS NOT DISTINCT FROM v_policy.version THEN
    RETURN NULL;
  END IF;
  UPDATE "agent_tiers"
     SET "earned_tier" = v_earned, "tier" = v_tier, "policy_version" = v_policy.version,
         "changed_at" = CASE WHEN v_tier <> v_row.tier THEN now() ELSE "changed_at" END
   WHERE "agent_id" = p_agent_id;
  IF v_tier = v_row.tier THEN RETURN NULL; END IF;
  INSERT INTO "audit_log" ("actor_type", "actor_id", "action", "subject_type", "subject_id", "before", "after", "reason")
  VALUES ('system', 'system', 'tier.changed', 'agent', p_agent_id,
          jsonb_build_object('tier', v_row.tier), jsonb_build_object('tier', v_tier, 'balance', p_balance,
          'policyVersion', v_policy.version), p_cause);
  RETURN jsonb_build_object('agentId', p_agent_id, 'from', v_row.tier, 'to', v_tier, 'balance', p_balance,
                            'cause', p_cause);
END;
$$;

-- Every agent has a ledger account and a tier from the moment it exists.
CREATE FUNCTION "agent_economy_open"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "ledger_accounts" ("id", "name", "kind", "agent_id")
    VALUES ('agent:' || NEW."id", 'agent:' || NEW."id", 'agent', NEW."id") ON CONFLICT DO NOTHING;
  INSERT INTO "agent_tiers" ("agent_id") VALUES (NEW."id") ON CONFLICT DO NOTHING;
  RETURN NEW;
END;
$$;
CREATE TRIGGER "agents_open_economy" AFTER INSERT ON "agents"
  FOR EACH ROW EXECUTE FUNCTION "agent_economy_open"();
INSERT INTO "ledger_accounts" ("id", "name", "kind", "agent_id")
  SELECT 'agent:' || "id", 'agent:' || "id", 'agent', "id" FROM "agents";
INSERT INTO "agent_tiers" ("agent_id") SELECT "id" FROM "agents";

/*
 * The one way money moves. Locks the two account rows in id order, checks, appends the transfer and
 * its two entries (chaining each account's hash), updates the stored balances, and refreshes the tier
 * of an agent whose balance changed. Errors carry SQLSTATEs of class L0 (see ledger-errors.ts).
 *   p_kind 'posted' | 'pending' | 'post_pending' | 'void_pending'
 *   p_partial: take what is there when the debit agent has less than p_amount (penalties, reversals)
 * Returns the transfer, the accounts' rows after it, and any tier changes.
 */
CREATE FUNCTION "ledger_transfer"(
  p_kind TEXT, p_debit TEXT, p_credit TEXT, p_amount BIGINT, p_reason TEXT, p_memo TEXT,
  p_source_type TEXT, p_source_id TEXT, p_post_id BIGINT, p_metadata JSONB, p_key TEXT, p_request_hash TEXT,
  p_pending_id BIGINT, p_expires_at TIMESTAMPTZ, p_reverses_id BIGINT, p_partial BOOLEAN
) RETURNS TABLE ("transfer" JSONB, "replayed" BOOLEAN, "accounts" JSONB, "tier_changes" JSONB)
LANGUAGE plpgsql AS $$
DECLARE
  v_existing "ledger_transfers";
  v_pending "ledger_transfers";
  v_t "ledger_transfers";
  v_row "ledger_accounts";
  v_debit "ledger_accounts";
  v_credit "ledger_accounts";
  v_debit_id TEXT;
  v_credit_id TEXT;
  v_amount BIGINT := p_amount;
  v_move BIGINT;
  v_hold BIGINT := 0;
  v_available BIGINT;
  v_debit_prev BYTEA;
  v_credit_prev BYTEA;
  v_changes JSONB := '[]';
  v_change JSONB;
BEGIN
  SELECT * INTO v_existing FROM "ledger_transfers" WHERE "idempotency_key" = p_key;
  IF FOUND THEN
    IF v_existing.request_hash <> p_request_hash THEN
      RAISE EXCEPTION 'idempotency key "%" was already used for a different transfer (%)', p_key, v_existing.id
        USING ERRCODE = 'L0003';
    END IF;
    RETURN QUERY SELECT to_jsonb(v_existing), true, '[]'::jsonb, '[]'::jsonb;
    RETURN;
  END IF;

  IF p_kind IN ('post_pending', 'void_pending') THEN
    SELECT * INTO v_pending FROM "ledger_transfers" WHERE "id" = p_pending_id AND "kind" = 'pending';
    IF NOT FOUND THEN RAISE EXCEPTION 'there is no hold %', p_pending_id USING ERRCODE = 'L0007'; END IF;
    v_debit_id := v_pending.debit_account;
    v_credit_id := v_pending.credit_account;
  ELSE
    v_debit_id := ledger_account_row(p_debit, p_credit);
    v_credit_id := ledger_account_row(p_credit, p_debit);
  END IF;
  IF v_debit_id = v_credit_id THEN
    RAISE EXCEPTION 'a transfer needs two different accounts' USING ERRCODE = 'L0008';
  END IF;

  FOR v_row IN SELECT * FROM "ledger_accounts" WHERE "id" IN (v_debit_id, v_credit_id) ORDER BY "id" FOR UPDATE LOOP
    IF v_row.id = v_debit_id THEN v_debit := v_row; ELSE v_credit := v_row; END IF;
  END LOOP;
  IF v_debit.id IS NULL THEN
    RAISE EXCEPTION 'there is no account %', p_debit USING ERRCODE = 'L0001';
  END IF;
  IF v_credit.id IS NULL THEN
    RAISE EXCEPTION 'there is no account %', p_credit USING ERRCODE = 'L0001';
  END IF;

  IF p_kind IN ('post_pending', 'void_pending') THEN
    -- Read after the lock: a concurrent settlement of the same hold has committed by now.
    IF NOT EXISTS (SELECT 1 FROM "ledger_open_holds" WHERE "transfer_id" = p_pending_id) THEN
      RAISE EXCEPTION 'hold % was already settled or released', p_pending_id USING ERRCODE = 'L0004';
    END IF;
    v_hold := -v_pending.amount;
    IF p_kind = 'void_pending' THEN
      v_amount := 0;
    ELSE
      IF v_pending.expires_at < clock_timestamp() THEN
        RAISE EXCEPTION 'hold % expired at %', p_pending_id, v_pending.expires_at USING ERRCODE = 'L0005';
      END IF;
      v_amount := coalesce(p_amount, v_pending.amount);
      IF v_amount > v_pending.amount THEN
        RAISE EXCEPTION 'hold % reserved %, less than the % asked', p_pending_id, v_pending.amount, v_amount
          USING ERRCODE = 'L0002';
      END IF;
    END IF;
    v_move := v_amount;
  ELSE
    IF v_debit.kind = 'agent' THEN
      v_available := v_debit.balance - v_debit.held;
      IF v_amount > v_available THEN
        IF p_partial AND v_available > 0 THEN
          v_amount := v_available;
        ELSIF p_partial THEN
          RAISE EXCEPTION '% has nothing left to take', p_debit USING ERRCODE = 'L0006';
        ELSE
          RAISE EXCEPTION '% has % available, less than %', p_debit, v_available, v_amount USING ERRCODE = 'L0002';
        END IF;
      END IF;
    END IF;
    IF p_kind = 'pending' THEN
      v_hold := v_amount;
      v_move := 0;
    ELSE
      v_move := v_amount;
    END IF;
  END IF;

  v_t.id := nextval(pg_get_serial_sequence('"ledger_transfers"', 'id'));
  v_t.kind := p_kind;
  v_t.debit_account := v_debit_id;
  v_t.credit_account := v_credit_id;
  v_t.amount := v_amount;
  v_t.reason := CASE WHEN p_kind IN ('post_pending', 'void_pending') THEN coalesce(p_reason, v_pending.reason) ELSE p_reason END;
  v_t.memo := p_memo;
  v_t.source_type := p_source_type;
  v_t.source_id := p_source_id;
  v_t.post_id := coalesce(p_post_id, v_pending.post_id);
  v_t.metadata := coalesce(p_metadata, '{}');
  IF v_amount <> p_amount AND p_kind = 'posted' THEN
    v_t.metadata := v_t.metadata || jsonb_build_object('requested', p_amount);
  END IF;
  v_t.idempotency_key := p_key;
  v_t.request_hash := p_request_hash;
  v_t.pending_id := p_pending_id;
  v_t.expires_at := CASE WHEN p_kind = 'pending' THEN p_expires_at END;
  v_t.reverses_id := p_reverses_id;
  v_t.created_at := clock_timestamp();
  v_debit_prev := v_debit.head_hash;
  v_credit_prev := v_credit.head_hash;
  v_t.hash := ledger_transfer_hash(v_t, v_debit_prev, v_credit_prev);
  INSERT INTO "ledger_transfers" SELECT v_t.*;

  UPDATE "ledger_accounts" SET "balance" = "balance" - v_move, "held" = "held" + v_hold,
         "entry_count" = "entry_count" + 1, "head_hash" = v_t.hash
   WHERE "id" = v_debit_id RETURNING * INTO v_debit;
  UPDATE "ledger_accounts" SET "balance" = "balance" + v_move,
         "entry_count" = "entry_count" + 1, "head_hash" = v_t.hash
   WHERE "id" = v_credit_id RETURNING * INTO v_credit;
  INSERT INTO "ledger_entries" VALUES
    (v_t.id, v_debit_id, v_debit.entry_count, -v_move, v_hold, v_debit.balance, v_debit.held, v_debit_prev),
    (v_t.id, v_credit_id, v_credit.entry_count, v_move, 0, v_credit.balance, v_credit.held, v_credit_prev);

  IF p_kind = 'pending' THEN
    INSERT INTO "ledger_open_holds" VALUES (v_t.id, v_t.expires_at);
  ELSIF p_kind IN ('post_pending', 'void_pending') THEN
    DELETE FROM "ledger_open_holds" WHERE "transfer_id" = p_pending_id;
  END IF;

  IF v_move <> 0 THEN
    IF v_debit.kind = 'agent' THEN
      v_change := agent_tier_refresh(v_debit.agent_id, v_debit.balance, v_t.reason);
      IF v_change IS NOT NULL THEN v_changes := v_changes || v_change; END IF;
    END IF;
    IF v_credit.kind = 'agent' THEN
      v_change := agent_tier_refresh(v_credit.agent_id, v_credit.balance, v_t.reason);
      IF v_change IS NOT NULL THEN v_changes := v_changes || v_change; END IF;
    END IF;
  END IF;

  RETURN QUERY SELECT to_jsonb(v_t), false, jsonb_build_array(to_jsonb(v_debit), to_jsonb(v_credit)), v_changes;
END;
$$;
