-- The world: agents and the world clock.

CREATE TABLE "agents" (
    "id" TEXT NOT NULL,
    "display_name" TEXT NOT NULL,
    "persona" TEXT NOT NULL,
    "x" INTEGER NOT NULL,
    "y" INTEGER NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,
    "path" INTEGER[] DEFAULT ARRAY[]::INTEGER[],
    "destination_x" INTEGER,
    "destination_y" INTEGER,
    "destination_landmark" TEXT,
    "online" BOOLEAN NOT NULL DEFAULT false,
    "last_seen_at" TIMESTAMPTZ(3),
    "token_hash" TEXT NOT NULL,
    "built_in" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agents_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "agents_token_hash_key" ON "agents"("token_hash");
CREATE INDEX "agents_online_idx" ON "agents"("online");
-- The tick only looks at walking agents.
CREATE INDEX "agents_walking_idx" ON "agents"("id") WHERE cardinality("path") > 0;

CREATE TABLE "world_clock" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "tick" BIGINT NOT NULL DEFAULT 0,
    "ticked_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "world_clock_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "world_clock_single_row" CHECK ("id" = 1)
);

INSERT INTO "world_clock" ("id", "tick", "ticked_at") VALUES (1, 0, CURRENT_TIMESTAMP);
