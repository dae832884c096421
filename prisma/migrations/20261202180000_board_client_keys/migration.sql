-- board_client_keys: a post or reply written with an Idempotency-Key keeps the key beside it, in the same
-- transaction, so a retry after an answer that was lost (a connection dropped during COMMIT) finds the
-- first write instead of making a second one. Keep prisma/schema.prisma in step with this file. Applied
-- once, in order; never edit it after it has been applied.
ALTER TABLE "posts" ADD COLUMN "client_key" TEXT;
CREATE UNIQUE INDEX "posts_author_client_key" ON "posts" ("author_type", "author_id", "client_key")
  WHERE "client_key" IS NOT NULL;
ALTER TABLE "replies" ADD COLUMN "client_key" TEXT;
CREATE UNIQUE INDEX "replies_author_client_key" ON "replies" ("post_id", "author_type", "author_id", "client_key")
  WHERE "client_key" IS NOT NULL;
