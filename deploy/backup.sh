#!/usr/bin/env bash
# One encrypted database backup, rotated (issue 12 "Backups").
#
#   DATABASE_URL=postgresql://… BACKUP_KEY_FILE=/etc/crm/backup.key deploy/backup.sh
#
# pg_dump (custom format: compressed, restorable table by table) is piped straight into
# AES-256 (openssl, key stretched with PBKDF2), so no plain copy ever touches the disk. A
# SHA-256 of the encrypted file sits beside it; restore.sh checks it first. Only the newest
# BACKUP_KEEP backups (default 14) are kept. Prints the new file's path.
#
# Environment: DATABASE_URL (required), BACKUP_KEY_FILE (required; `openssl rand -base64 48`),
# BACKUP_DIR (default /var/backups/crm), BACKUP_KEEP (default 14).
set -euo pipefail

: "${DATABASE_URL:?DATABASE_URL is not set}"
: "${BACKUP_KEY_FILE:?BACKUP_KEY_FILE is not set}"
[ -r "$BACKUP_KEY_FILE" ] || { echo "backup: cannot read key file $BACKUP_KEY_FILE" >&2; exit 2; }
BACKUP_DIR="${BACKUP_DIR:-/var/backups/crm}"
BACKUP_KEEP="${BACKUP_KEEP:-14}"
case "$BACKUP_KEEP" in ''|*[!0-9]*|0) echo "backup: BACKUP_KEEP must be a whole number ≥ 1" >&2; exit 2;; esac

# SQLAlchemy's driver suffix (postgresql+psycopg://) means nothing to libpq.
url="${DATABASE_URL/+psycopg/}"
umask 077
mkdir -p "$BACKUP_DIR"
stamp="$(date -u +%Y%m%dT%H%M%S%NZ)"
target="$BACKUP_DIR/crm-$stamp.dump.enc"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --no-owner --no-privileges --dbname="$url" \
  | openssl enc -aes-256-cbc -pbkdf2 -iter 200000 -salt -pass "file:$BACKUP_KEY_FILE" -out "$partial"
# Only a complete dump gets its final name: a failed run leaves no file that looks good.
mv "$partial" "$target"
(cd "$BACKUP_DIR" && sha256sum "$(basename "$target")" > "$(basename "$target").sha256")

# Rotation: the newest BACKUP_KEEP stay.
mapfile -t old < <(ls -1 "$BACKUP_DIR"/crm-*.dump.enc | sort -r | tail -n +"$((BACKUP_KEEP + 1))")
for file in "${old[@]}"; do rm -f "$file" "$file.sha256"; done

echo "$target"
