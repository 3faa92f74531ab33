#!/bin/sh
# Backup job: streams an RDB (`redis-cli --rdb`, as the `backup` ACL user) from a replica the
# Sentinels name as in sync (the master only when none is), checks it with redis-check-rdb, keeps
# the newest BACKUP_KEEP files on BACKUP_DIR and prints one key=value summary line.
set -eu
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
started=$(date +%s)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
partial="$BACKUP_DIR/.partial-$stamp.rdb"
source_host=""
source_port=""
source_role=""

summary() {
  echo "backup: status=$1 file=${2:-} bytes=${3:-0} keys=${4:-0} source=$source_host:$source_port" \
    "role=$source_role kept=${5:-0} removed=${6:-0} seconds=$(($(date +%s) - started))"
}
fail() {
  echo "backup: $1" >&2
  rm -f "$partial"
  summary failed
  exit 1
}

# in_sync_replica: "host port" of the first replica the Sentinels see up with its master link
# ok (SENTINEL replicas, flat key/value lines with --raw).
in_sync_replica() {
  redis_cli 5 monitor "$(password_of MONITOR_PASSWORD)" -h "$SENTINEL_HOST" -p "$SENTINEL_PORT" \
    --raw SENTINEL replicas "$MASTER_SET" | tr -d '\r' | awk '
      function done_one() { if (ip != "" && flags == "slave" && link == "ok" && !found) { print ip, port; found = 1 } }
      NR % 2 == 1 { key = $0; next }
      key == "name" { done_one(); ip = ""; port = ""; flags = ""; link = "" }
      key == "ip" { ip = $0 } key == "port" { port = $0 }
      key == "flags" { flags = $0 } key == "master-link-status" { link = $0 }
      END { done_one() }'
}

if [ "$REDIS_MODE" = "ha" ]; then
  replica=$(in_sync_replica) || fail "no Sentinel answered at $SENTINEL_HOST:$SENTINEL_PORT"
  if [ -n "$replica" ]; then
    source_host=${replica% *}
    source_port=${replica#* }
    source_role=replica
  else
    # No replica in sync: a snapshot of the master is still a consistent one.
    named=$(redis_cli 5 monitor "$(password_of MONITOR_PASSWORD)" -h "$SENTINEL_HOST" \
      -p "$SENTINEL_PORT" --raw SENTINEL get-master-addr-by-name "$MASTER_SET" | tr -d '\r') ||
      fail "no Sentinel named the master of $MASTER_SET"
    source_host=$(echo "$named" | sed -n 1p)
    source_port=$(echo "$named" | sed -n 2p)
    source_role=master
  fi
else
  source_host=$REDIS_HOST
  source_port=$REDIS_PORT
  source_role=master
fi
if [ -z "$source_host" ] || [ -z "$source_port" ]; then
  fail "no data pod to back up"
fi

rm -f "$BACKUP_DIR"/.partial-*.rdb
redis_cli "$BACKUP_TIMEOUT_SECONDS" backup "$(password_of BACKUP_PASSWORD)" \
  -h "$source_host" -p "$source_port" --rdb "$partial" >/dev/null 2>&1 ||
  fail "the RDB transfer from $source_host:$source_port failed"
checked=$(redis-check-rdb "$partial" 2>&1) || fail "redis-check-rdb refused the RDB: $(echo "$checked" | tail -n 3 | tr '\n' ' ')"
keys=$(echo "$checked" | sed -n 's/^\[info\] \([0-9]*\) keys read$/\1/p' | tail -n 1)
bytes=$(wc -c < "$partial" | tr -d ' ')
file="backup-$stamp.rdb"
(cd "$BACKUP_DIR" && sha256sum ".partial-$stamp.rdb" | sed "s/\.partial-$stamp\.rdb/$file/" > "$file.sha256")
mv "$partial" "$BACKUP_DIR/$file"

# Retention: the names sort by time; keep the newest BACKUP_KEEP.
removed=0
for old in $(find "$BACKUP_DIR" -maxdepth 1 -name 'backup-*.rdb' | sort -r | tail -n "+$((BACKUP_KEEP + 1))"); do
  rm -f "$old" "$old.sha256"
  removed=$((removed + 1))
done
kept=$(find "$BACKUP_DIR" -maxdepth 1 -name 'backup-*.rdb' | wc -l | tr -d ' ')
summary ok "$file" "$bytes" "${keys:-0}" "$kept" "$removed"
