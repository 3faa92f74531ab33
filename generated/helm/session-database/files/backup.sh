#!/bin/sh
# Backup job: streams an RDB (`redis-cli --rdb`, as the `backup` ACL user) from a replica the
# Sentinels name as in sync (the master only when none is), checks it with redis-check-rdb, keeps
# the newest BACKUP_KEEP files on BACKUP_DIR and prints one key=value summary line. Each run that
# finds the master records its result there, in DB RESULTS_DB (backup:result:*, numeric strings
# the exporter publishes: chart README, Backup and restore).
set -eu
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
started=$(date +%s)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
partial="$BACKUP_DIR/.partial-$stamp.rdb"
source_host=""
source_port=""
source_role=""
master_host=""
master_port=""

summary() {
  echo "backup: status=$1 file=${2:-} bytes=${3:-0} keys=${4:-0} source=$source_host:$source_port" \
    "role=$source_role kept=${5:-0} removed=${6:-0} seconds=$(($(date +%s) - started))"
}

# record STATUS BYTES: the run's record on the master, one MULTI as the backup user (its only
# writes: first-argument rules on these keys). Best effort: false when it was not stored.
record() {
  [ -n "$master_host" ] || return 1
  now=$(date +%s)
  if [ "$1" = ok ]; then
    outcome="SET backup:result:failures 0
SET backup:result:last_success $now"
  else
    outcome="INCR backup:result:failures"
  fi
  reply=$(printf 'MULTI\nSET backup:result:last_run %s\nSET backup:result:bytes %s\nSET backup:result:duration_seconds %s\n%s\nEXEC\n' \
    "$now" "$2" "$((now - started))" "$outcome" |
    redis_cli 10 backup "$(password_of BACKUP_PASSWORD)" -h "$master_host" -p "$master_port" \
      -n "${RESULTS_DB:-0}" --csv 2>&1) || return 1
  echo "$reply" | tail -n 1 | grep -qv ERROR
}

fail() {
  echo "backup: $1" >&2
  rm -f "$partial"
  record failed 0 || echo "backup: warning=\"run not recorded in Redis\"" >&2
  summary failed
  exit 1
}

# sentinel_master_of SET: "host port" of SET's master from SENTINEL masters (flat key/value
# lines with --raw; the monitor user's Sentinel rights have no get-master-addr-by-name).
sentinel_master_of() {
  redis_cli 5 monitor "$(password_of MONITOR_PASSWORD)" -h "$SENTINEL_HOST" -p "$SENTINEL_PORT" \
    --raw SENTINEL masters | tr -d '\r' | awk -v set="$1" '
      NR % 2 == 1 { key = $0; next }
      key == "name" { name = $0 }
      key == "ip" { ip = $0 }
      key == "port" && name == set && ip != "" { print ip, $0; exit }'
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
  master=$(sentinel_master_of "$MASTER_SET") || master=""
  [ -n "$master" ] || fail "no Sentinel at $SENTINEL_HOST:$SENTINEL_PORT named the master of $MASTER_SET"
  master_host=${master% *}
  master_port=${master#* }
  replica=$(in_sync_replica) || fail "no Sentinel answered at $SENTINEL_HOST:$SENTINEL_PORT"
  if [ -n "$replica" ]; then
    source_host=${replica% *}
    source_port=${replica#* }
    source_role=replica
  else
    # No replica in sync: a snapshot of the master is still a consistent one.
    source_host=$master_host
    source_port=$master_port
    source_role=master
  fi
else
  master_host=$REDIS_HOST
  master_port=$REDIS_PORT
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
record ok "$bytes" || echo "backup: warning=\"run not recorded in Redis\"" >&2
summary ok "$file" "$bytes" "${keys:-0}" "$kept" "$removed"
