-- An agent's path is a list, never NULL: an empty one means it is not walking.
UPDATE "agents" SET "path" = ARRAY[]::INTEGER[] WHERE "path" IS NULL;
ALTER TABLE "agents" ALTER COLUMN "path" SET NOT NULL;
