#!/usr/bin/env bash
# Restore one backup made by backup.sh into an EMPTY database (issue 12 "Backups").
#
#   BACKUP_KEY_FILE=/etc/crm/backup.key deploy/restore.sh BACKUP_FILE TARGET_DATABASE_URL
#
# Checks the backup's SHA-256, refuses a target that already has tables (restore into a new
# database, check it, then point DATABASE_URL at it), and stops at the first error.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: BACKUP_KEY_FILE=… $0 BACKUP_FILE TARGET_DATABASE_URL" >&2
  exit 2
fi
backup="$1"
url="${2/+psycopg/}"
: "${BACKUP_KEY_FILE:?BACKUP_KEY_FILE is not set}"
[ -r "$backup" ] || { echo "restore: cannot read $backup" >&2; exit 2; }

if [ -f "$backup.sha256" ]; then
  (cd "$(dirname "$backup")" && sha256sum --check --quiet "$(basename "$backup").sha256") \
    || { echo "restore: $backup does not match its checksum" >&2; exit 3; }
else
  echo "restore: no checksum beside $backup; restoring unchecked" >&2
fi

tables="$(psql --no-psqlrc -tA --dbname="$url" \
  -c "select count(*) from pg_tables where schemaname = 'public'")"
if [ "$tables" != "0" ]; then
  echo "restore: the target database already has $tables tables; restore into an empty one" >&2
  exit 4
fi

openssl enc -d -aes-256-cbc -pbkdf2 -iter 200000 -pass "file:$BACKUP_KEY_FILE" -in "$backup" \
  | pg_restore --no-owner --no-privileges --exit-on-error --dbname="$url"
echo "restored $backup"
