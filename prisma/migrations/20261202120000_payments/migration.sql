-- payments: real-money deposits (entered by admins or reported by PayPal webhooks), the refunds and
-- reversals that take them back, and every webhook delivery as it arrived. Keep prisma/schema.prisma
-- in step with this file. Applied once, in order; never edit it after it has been applied.
-- docs/PAYMENTS.md explains the flow, ADR 0009 the design. Money moves only through the ledger: these
-- tables say why it moved and point at its transfers.

-- Every PayPal webhook delivery, stored before anything else is done with it (raw bytes as received).
CREATE TABLE "payment_webhook_events" (
  "id"               BIGSERIAL PRIMARY KEY,
  "provider"         TEXT NOT NULL DEFAULT 'paypal' CHECK ("provider" IN ('paypal')),
  -- PayPal's event id (WH-...); null when the body had none (then it is rejected).
  "event_id"         TEXT,
  "event_type"       TEXT,
  "body_sha256"      TEXT NOT NULL,
  "raw_body"         BYTEA NOT NULL,
  -- The PAYPAL-* headers (and content type), lower-case names.
  "headers"          JSONB NOT NULL,
  -- received -> verified -> processed | ignored; rejected (refused at the door or by verification);
  -- failed (retries ran out; an admin may retry).
  "status"           TEXT NOT NULL
                     CHECK ("status" IN ('received', 'verified', 'rejected', 'processed', 'ignored', 'failed')),
  "verified_by"      TEXT CHECK ("verified_by" IN ('certificate', 'api')),
  "error"            TEXT,
  "note"             TEXT,
  -- Identical deliveries (same event id and bytes) are counted here, not stored again.
  "deliveries"       INTEGER NOT NULL DEFAULT 1,
  "attempts"         INTEGER NOT NULL DEFAULT 0,
  "deposit_id"       BIGINT,
  "refund_id"        BIGINT,
  "received_at"      TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "last_delivery_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "verified_at"      TIMESTAMPTZ(3),
  "processed_at"     TIMESTAMPTZ(3),
  "updated_at"       TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX "payment_webhook_events_event_id_body_sha256_key"
  ON "payment_webhook_events" ("event_id", "body_sha256");
-- An event id is acted on once, whatever other bodies arrive claiming it.
CREATE UNIQUE INDEX "payment_webhook_events_acted_on_key" ON "payment_webhook_events" ("event_id")
  WHERE "status" IN ('verified', 'processed', 'ignored');
CREATE INDEX "payment_webhook_events_status_idx" ON "payment_webhook_events" ("status", "updated_at");

-- Money that reached the village's PayPal account, one row per PayPal transaction (capture).
CREATE TABLE "deposits" (
  "id"                 BIGSERIAL PRIMARY KEY,
  "source"             TEXT NOT NULL CHECK ("source" IN ('manual', 'paypal')),
  -- PayPal's transaction (capture) id, in capitals: a deposit is recorded once, by hand or by webhook.
  "transaction_id"     TEXT NOT NULL,
  -- Minor units (cents; yen for JPY) of "currency".
  "amount"             BIGINT NOT NULL CHECK ("amount" > 0),
  "currency"           TEXT NOT NULL,
  -- The exchange rate used (mills per minor unit) and the aiDollars (mills) it brought in.
  "rate"               BIGINT NOT NULL CHECK ("rate" >= 0),
  "mills"              BIGINT NOT NULL CHECK ("mills" >= 0),
  -- The agent the payer named (PayPal's custom_id) and the agent that has the money.
  "requested_agent_id" TEXT,
  "agent_id"           TEXT REFERENCES "agents" ("id"),
  "status"             TEXT NOT NULL CHECK ("status" IN ('credited', 'suspense', 'refused')),
  "refused_reason"     TEXT,
  "transfer_id"        BIGINT REFERENCES "ledger_transfers" ("id"),
  "assign_transfer_id" BIGINT REFERENCES "ledger_transfers" ("id"),
  "assigned_by"        TEXT,
  "assigned_at"        TIMESTAMPTZ(3),
  "refunded_amount"    BIGINT NOT NULL DEFAULT 0 CHECK ("refunded_amount" >= 0),
  "refunded_mills"     BIGINT NOT NULL DEFAULT 0 CHECK ("refunded_mills" >= 0),
  "shortfall_mills"    BIGINT NOT NULL DEFAULT 0 CHECK ("shortfall_mills" >= 0),
  "webhook_event_id"   BIGINT REFERENCES "payment_webhook_events" ("id"),
  "entered_by"         TEXT,
  "memo"               TEXT,
  "created_at"         TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "updated_at"         TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  CHECK (("status" = 'credited') = ("agent_id" IS NOT NULL)),
  CHECK (("status" = 'refused') = ("transfer_id" IS NULL))
);
CREATE UNIQUE INDEX "deposits_transaction_id_key" ON "deposits" ("transaction_id");
CREATE INDEX "deposits_agent_id_idx" ON "deposits" ("agent_id");
CREATE INDEX "deposits_created_at_idx" ON "deposits" ("created_at");

-- Refunds and reversals of a deposit, one row per PayPal refund (or reversal) id.
CREATE TABLE "deposit_refunds" (
  "id"               BIGSERIAL PRIMARY KEY,
  "refund_id"        TEXT NOT NULL,
  "kind"             TEXT NOT NULL CHECK ("kind" IN ('refund', 'reversal')),
  -- The capture it takes back; the deposit is null while that capture has not arrived.
  "transaction_id"   TEXT NOT NULL,
  "deposit_id"       BIGINT REFERENCES "deposits" ("id"),
  "amount"           BIGINT NOT NULL CHECK ("amount" > 0),
  "currency"         TEXT NOT NULL,
  -- aiDollars (mills) to take back at the deposit's rate, what was taken, what could not be.
  "mills"            BIGINT NOT NULL DEFAULT 0 CHECK ("mills" >= 0),
  "taken"            BIGINT NOT NULL DEFAULT 0 CHECK ("taken" >= 0),
  "shortfall"        BIGINT NOT NULL DEFAULT 0 CHECK ("shortfall" >= 0),
  "account"          TEXT,
  "transfer_id"      BIGINT REFERENCES "ledger_transfers" ("id"),
  "status"           TEXT NOT NULL CHECK ("status" IN ('waiting', 'applied', 'refused')),
  "note"             TEXT,
  "webhook_event_id" BIGINT REFERENCES "payment_webhook_events" ("id"),
  "created_at"       TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "applied_at"       TIMESTAMPTZ(3),
  CHECK ("status" = 'waiting' OR "deposit_id" IS NOT NULL)
);
CREATE UNIQUE INDEX "deposit_refunds_refund_id_key" ON "deposit_refunds" ("refund_id");
CREATE INDEX "deposit_refunds_transaction_id_idx" ON "deposit_refunds" ("transaction_id");
CREATE INDEX "deposit_refunds_deposit_id_idx" ON "deposit_refunds" ("deposit_id");

ALTER TABLE "payment_webhook_events"
  ADD CONSTRAINT "payment_webhook_events_deposit_id_fkey" FOREIGN KEY ("deposit_id") REFERENCES "deposits" ("id"),
  ADD CONSTRAINT "payment_webhook_events_refund_id_fkey" FOREIGN KEY ("refund_id") REFERENCES "deposit_refunds" ("id");
