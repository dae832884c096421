// `npm run db:migration -- <name>`: starts the next migration in Prisma's layout
// (prisma/migrations/<timestamp>_<name>/migration.sql). Write its SQL by hand, or generate it on a
// connected machine with `npx prisma migrate diff` (docs/adr/0002-offline-migrations.md).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const name = (process.argv[2] ?? '')
  .toLowerCase()
  .replace(/[^a-z0-9]+/g, '_')
  .replace(/^_|_$/g, '');
if (!name) {
  console.error('usage: npm run db:migration -- <name>   (e.g. board_posts)');
  process.exit(1);
}
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
const dir = join(fileURLToPath(new URL('../prisma/migrations', import.meta.url)), `${stamp}_${name}`);
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, 'migration.sql'),
  `-- ${name}: keep prisma/schema.prisma in step with this file.\n-- Applied once, in order, at the next start; never edit it after it has been applied.\n\n`,
);
console.log(`created ${dir}/migration.sql`);
