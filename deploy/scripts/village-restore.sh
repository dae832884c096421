#!/usr/bin/env bash
# Restores a backup made by village-backup.sh into an EMPTY database, then verifies the ledger (hash
# chains, entries, balances) in the restored copy. It never writes over a database that has tables.
#
#   DATABASE_URL=postgresql://village:…@db:5432/village_restored deploy/scripts/village-restore.sh backups/village-….dump
#
# --create     create the database named in DATABASE_URL first (through the server's `postgres` database)
# --no-verify  skip the ledger verification (not recommended)
#
# VILLAGE_VERIFY_COMMAND overrides how the verification runs (default: node control-plane/dist/src/cli/ledger-verify.js
# from this repository; in the control-plane image, /opt/village/control-plane/dist/src/cli/ledger-verify.js).
# Exit codes: 0 restored and verified; 1 the ledger does not verify; 2 usage or restore failure.
set -euo pipefail

create=false
verify=true
dump=""
for argument in "$@"; do
  case "$argument" in
    --create) create=true ;;
    --no-verify) verify=false ;;
    -*) echo "unknown option $argument" >&2; exit 2 ;;
    *) dump="$argument" ;;
  esac
done
: "${DATABASE_URL:?set DATABASE_URL to the (empty) database to restore into}"
if [ -z "$dump" ] || [ ! -f "$dump" ]; then
  echo "usage: DATABASE_URL=… $0 [--create] [--no-verify] <backup .dump file>" >&2
  exit 2
fi
if [ -f "$dump.sha256" ]; then
  (cd "$(dirname "$dump")" && sha256sum --check --status "$(basename "$dump").sha256") ||
    { echo "$dump does not match its checksum ($dump.sha256): refusing to restore it" >&2; exit 2; }
fi

if $create; then
  database=$(node -e 'console.log(decodeURIComponent(new URL(process.argv[1]).pathname.slice(1)))' "$DATABASE_URL")
  maintenance=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/postgres"; console.log(u.toString())' "$DATABASE_URL")
  # psql quotes the name (:"name") only in statements it reads, not in --command.
  echo 'CREATE DATABASE :"name"' |
    psql --dbname="$maintenance" --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --set=name="$database" >/dev/null || exit 2
fi

tables=$(psql --dbname="$DATABASE_URL" --tuples-only --no-align --no-psqlrc \
  --command="SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')") || exit 2
if [ "$tables" -ne 0 ]; then
  echo "the target database has $tables tables: restore into an empty database (or use --create with a new name)" >&2
  exit 2
fi

# One transaction: a restore that fails half way leaves the database empty, not half restored.
pg_restore --dbname="$DATABASE_URL" --no-owner --no-privileges --exit-on-error --single-transaction "$dump" || exit 2
echo "restored $dump" >&2

if $verify; then
  here=$(cd "$(dirname "$0")/../.." && pwd)
  command="${VILLAGE_VERIFY_COMMAND:-node $here/control-plane/dist/src/cli/ledger-verify.js}"
  # The verification's own exit code: 0 verified, 1 a discrepancy (named on stdout), 2 it could not run.
  $command
fi
