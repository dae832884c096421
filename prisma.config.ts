// Prisma CLI configuration (Prisma 7 keeps the URL here, not in the schema). The CLI is only needed
// for `prisma generate` and, on connected sites, `prisma migrate status`; the village applies its
// own migrations at start (docs/adr/0002-offline-migrations.md).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/village' },
});
