#!/bin/sh
# Restore job (a pre-upgrade hook, chart README "Backup and restore"): checks the chosen backup
# and stages it on data pod 0's volume as restore-<id>.rdb; start-redis.sh installs it at the
# pod's next start. Runs once per RESTORE_ID, and only while the data pods and Sentinels are
# stopped: a running master would overwrite the restore with its own data.
set -eu
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
source_file="$BACKUP_DIR/$RESTORE_FILE"
staged="$DATA_DIR/restore-$RESTORE_ID.rdb"
say() { echo "restore: id=$RESTORE_ID file=$RESTORE_FILE $*"; }

if [ -f "$DATA_DIR/restore-$RESTORE_ID.done" ] || [ -f "$staged" ]; then
  say "status=skipped reason=already-restored"
  exit 0
fi
reply=$(redis_cli 3 backup "$(password_of BACKUP_PASSWORD)" -h "$SEED_HOST" -p "$REDIS_PORT" PING 2>/dev/null || true)
if [ "$reply" = "PONG" ]; then
  say "status=refused reason=data-pod-running (scale the data StatefulSet to 0 first)" >&2
  exit 1
fi
if [ "$REDIS_MODE" = "ha" ]; then
  reply=$(redis_cli 3 monitor "$(password_of MONITOR_PASSWORD)" -h "$SENTINEL_HOST" \
    -p "$SENTINEL_PORT" PING 2>/dev/null || true)
  if [ "$reply" = "PONG" ]; then
    say "status=refused reason=sentinels-running (scale the Sentinel StatefulSet to 0 first)" >&2
    exit 1
  fi
fi
[ -f "$source_file" ] || { say "status=refused reason=no-such-file" >&2; exit 1; }
if [ -f "$source_file.sha256" ]; then
  (cd "$BACKUP_DIR" && sha256sum -c "$RESTORE_FILE.sha256" >/dev/null 2>&1) ||
    { say "status=refused reason=checksum-mismatch" >&2; exit 1; }
fi
redis-check-rdb "$source_file" >/dev/null 2>&1 ||
  { say "status=refused reason=redis-check-rdb-failed" >&2; exit 1; }
cp "$source_file" "$staged.partial"
mv "$staged.partial" "$staged"
say "status=staged target=$staged"
