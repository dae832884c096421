-- ledger_cheaper_transfer: the same transfer, for less PostgreSQL CPU (docs/ARCHITECTURE.md, "The ledger").
-- Keep prisma/schema.prisma in step with this file. Applied once, in order; never edit it after it has been
-- applied.
--
-- 1. Tier bands. A transfer used to refresh both agents' tiers (two PL/pgSQL calls, two agent_tiers row
--    locks, two policy reads) although it almost never changes a tier. Each agent's ledger row now keeps the
--    balances within which its earned tier cannot change under a policy version; a transfer refreshes the
--    tier only when the new balance leaves that band or the policy has a newer version.
-- 2. The foreign keys from transfers and entries to accounts and from entries to transfers go: every row is
--    written by ledger_transfer under both accounts' row locks, and verifyLedger checks what they guarded
--    (each transfer has its two entries, each entry its transfer, each entry's account exists).
-- 3. The unique indexes on pending_id and reverses_id hold only the rows that have one (same rule, two
--    index insertions fewer per transfer); one UPDATE writes both account rows; the transfer id comes from
--    its sequence by name.

ALTER TABLE "ledger_accounts"
  -- Balances at which the agent's earned tier stays what agent_tiers says, under policy version
  -- tier_band_policy (null: not known, the next balance change refreshes the tier). Written only by
  -- agent_tier_refresh; pins and quarantine do not depend on the balance, so they do not change it.
  ADD COLUMN "tier_band" INT8RANGE,
  ADD COLUMN "tier_band_policy" INTEGER;

ALTER TABLE "ledger_transfers" DROP CONSTRAINT "ledger_transfers_debit_account_fkey",
  DROP CONSTRAINT "ledger_transfers_credit_account_fkey";
ALTER TABLE "ledger_entries" DROP CONSTRAINT "ledger_entries_transfer_id_fkey",
  DROP CONSTRAINT "ledger_entries_account_id_fkey";

DROP INDEX "ledger_transfers_pending_id_key";
CREATE UNIQUE INDEX "ledger_transfers_pending_id_key" ON "ledger_transfers" ("pending_id")
  WHERE "pending_id" IS NOT NULL;
DROP INDEX "ledger_transfers_reverses_id_key";
CREATE UNIQUE INDEX "ledger_transfers_reverses_id_key" ON "ledger_transfers" ("reverses_id")
  WHERE "reverses_id" IS NOT NULL;

-- The balances at which tier_for_balance(balance, earned, thresholds, hysteresis) = earned. The rule is
-- monotonic in the balance, so they form a range: it reaches `earned` from the lowest threshold of tiers
-- >= earned, or from the earned tier's own threshold less the hysteresis; it reaches earned + 1 from the
-- lowest threshold of tiers above. Tier 0 has no lower end; the top tier no upper one.
CREATE FUNCTION "tier_band"(earned INTEGER, thresholds BIGINT[], hysteresis BIGINT) RETURNS INT8RANGE
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN int8range(
    CASE WHEN earned > 0 THEN least(thresholds[earned + 1] - hysteresis,
      (SELECT min(thresholds[i]) FROM generate_subscripts(thresholds, 1) i WHERE i > earned)) END,
    (SELECT min(thresholds[i]) FROM generate_subscripts(thresholds, 1) i WHERE i > earned + 1),
    '[)');
END;
$$;

-- As before (migration 20261201120000), and it also writes the agent's tier band on its ledger row.
CREATE OR REPLACE FUNCTION "agent_tier_refresh"(p_agent_id TEXT, p_balance BIGINT, p_cause TEXT) RETURNS JSONB
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
  UPDATE "ledger_accounts"
     SET "tier_band" = tier_band(v_earned, v_policy.thresholds, v_policy.hysteresis),
         "tier_band_policy" = v_policy.version
   WHERE "id" = 'agent:' || p_agent_id;
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

/*
 * The one way money moves (as in migration 20261201120000, whose comment explains it). Differences: the
 * tier is refreshed only when a balance leaves its band (or the policy changed), one UPDATE writes both
 * locked account rows, the id comes from the sequence by name, and the accounts come back with only the
 * fields of AccountRow (ledger-records.ts).
 */
CREATE OR REPLACE FUNCTION "ledger_transfer"(
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
  v_policy_version INTEGER;
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

  v_t.id := nextval('"ledger_transfers_id_seq"'::regclass);
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

  -- Both rows are locked: their new values are known here, and one UPDATE writes both.
  v_debit.balance := v_debit.balance - v_move;
  v_debit.held := v_debit.held + v_hold;
  v_debit.entry_count := v_debit.entry_count + 1;
  v_credit.balance := v_credit.balance + v_move;
  v_credit.entry_count := v_credit.entry_count + 1;
  UPDATE "ledger_accounts" a
     SET "balance" = n.balance, "held" = n.held, "entry_count" = n.entry_count, "head_hash" = v_t.hash
    FROM (VALUES (v_debit_id, v_debit.balance, v_debit.held, v_debit.entry_count),
                 (v_credit_id, v_credit.balance, v_credit.held, v_credit.entry_count)) n (id, balance, held, entry_count)
   WHERE a.id = n.id;
  INSERT INTO "ledger_entries" VALUES
    (v_t.id, v_debit_id, v_debit.entry_count, -v_move, v_hold, v_debit.balance, v_debit.held, v_debit_prev),
    (v_t.id, v_credit_id, v_credit.entry_count, v_move, 0, v_credit.balance, v_credit.held, v_credit_prev);

  IF p_kind = 'pending' THEN
    INSERT INTO "ledger_open_holds" VALUES (v_t.id, v_t.expires_at);
  ELSIF p_kind IN ('post_pending', 'void_pending') THEN
    DELETE FROM "ledger_open_holds" WHERE "transfer_id" = p_pending_id;
  END IF;

  -- An agent's tier moves only when its balance leaves its band, or under a newer policy (one stored
  -- without TiersService.setPolicy, which recomputes every agent at once).
  IF v_move <> 0 AND 'agent' IN (v_debit.kind, v_credit.kind) THEN
    SELECT max("version") INTO v_policy_version FROM "tier_policies";
    IF v_debit.kind = 'agent' AND NOT coalesce(v_debit.balance <@ v_debit.tier_band
                                               AND v_debit.tier_band_policy = v_policy_version, false) THEN
      v_change := agent_tier_refresh(v_debit.agent_id, v_debit.balance, v_t.reason);
      IF v_change IS NOT NULL THEN v_changes := v_changes || v_change; END IF;
    END IF;
    IF v_credit.kind = 'agent' AND NOT coalesce(v_credit.balance <@ v_credit.tier_band
                                                AND v_credit.tier_band_policy = v_policy_version, false) THEN
      v_change := agent_tier_refresh(v_credit.agent_id, v_credit.balance, v_t.reason);
      IF v_change IS NOT NULL THEN v_changes := v_changes || v_change; END IF;
    END IF;
  END IF;

  RETURN QUERY SELECT to_jsonb(v_t), false,
    jsonb_build_array(
      jsonb_build_object('id', v_debit.id, 'name', v_debit.name, 'kind', v_debit.kind,
                         'agent_id', v_debit.agent_id, 'balance', v_debit.balance, 'held', v_debit.held),
      jsonb_build_object('id', v_credit.id, 'name', v_credit.name, 'kind', v_credit.kind,
                         'agent_id', v_credit.agent_id, 'balance', v_credit.balance, 'held', v_credit.held)),
    v_changes;
END;
$$;
