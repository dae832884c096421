#!/usr/bin/env bash
# Backs up the village's PostgreSQL database (all of its state; Redis holds nothing that cannot be
# rebuilt, see docs/OPERATIONS.md#backup-and-restore) with pg_dump's custom format, checks that the
# file reads back, and keeps the newest VILLAGE_BACKUP_KEEP backups.
#
#   DATABASE_URL=postgresql://village:…@db:5432/village deploy/scripts/village-backup.sh [directory]
#
# directory: where backups go (default $VILLAGE_BACKUP_DIR, else ./backups). Each backup is
# village-<UTC time>.dump with a .sha256 beside it. Prints the backup's path on stdout; exits non-zero,
# leaving no partial file behind, if anything fails. pg_dump takes a consistent snapshot (one
# repeatable-read transaction), so the village keeps running while it works.
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to the village database (postgresql://user:password@host:port/database)}"
directory="${1:-${VILLAGE_BACKUP_DIR:-./backups}}"
keep="${VILLAGE_BACKUP_KEEP:-14}"
if ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
  echo "VILLAGE_BACKUP_KEEP must be a whole number of backups to keep, at least 1 (got \"$keep\")" >&2
  exit 2
fi
for tool in pg_dump pg_restore sha256sum; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install postgresql-client)" >&2; exit 2; }
done

# Backups hold password hashes and sealed secrets: readable by their owner only.
umask 077
mkdir -p "$directory"
name="village-$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$directory/.$name.partial"
trap 'rm -f "$partial"' EXIT

# --no-owner/--no-privileges: the dump restores under whichever role runs the restore.
pg_dump --dbname="$DATABASE_URL" --format=custom --compress=6 --no-owner --no-privileges --file="$partial"
# A dump whose table of contents cannot be read is no backup.
entries=$(pg_restore --list "$partial" | grep -vc '^;')
if [ "$entries" -eq 0 ]; then
  echo "the dump has no entries: refusing to keep it" >&2
  exit 1
fi
mv "$partial" "$directory/$name"
(cd "$directory" && sha256sum "$name" > "$name.sha256")

# Keep the newest $keep backups (names sort by time).
ls -1 "$directory" | grep -E '^village-[0-9]{8}T[0-9]{6}Z\.dump$' | sort -r | tail -n +"$((keep + 1))" |
  while read -r old; do rm -f "$directory/$old" "$directory/$old.sha256"; done

echo "backup written: $directory/$name ($entries entries, $(du -h "$directory/$name" | cut -f1))" >&2
echo "$directory/$name"
