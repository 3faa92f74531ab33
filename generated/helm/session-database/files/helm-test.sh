#!/bin/sh
# `helm test`: the master answers through its endpoint (and, in ha, is the one the Sentinels
# name), its replicas are online and in sync, and every role gets exactly its permissions (the
# table in CHECKS_FILE: `KEY USER GROUP DB ok|denied COMMAND...`). TLS when TLS_DIR is set.
# One line per check; exit 1 when any fails.
set -u
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
failures=0
passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failures=$((failures + 1)); echo "FAIL $*"; }
as_monitor() { redis_cli 5 monitor "$(password_of MONITOR_PASSWORD)" "$@" 2>&1 | tr -d '\r'; }
field() { echo "$1" | sed -n "s/^$2:\(.*\)$/\1/p"; }

replication=$(as_monitor -h "$REDIS_HOST" -p "$REDIS_PORT" INFO replication)
server=$(as_monitor -h "$REDIS_HOST" -p "$REDIS_PORT" INFO server)
if [ "$(field "$replication" role)" = "master" ]; then
  ok "endpoint $REDIS_HOST:$REDIS_PORT answers as the master"
else
  bad "endpoint $REDIS_HOST:$REDIS_PORT: no master answers ($(echo "$replication" | head -n 1))"
fi

if [ "$REDIS_MODE" = "ha" ]; then
  named=$(redis_cli 5 probe "$(password_of PROBE_PASSWORD)" -h "$SENTINEL_HOST" -p "$SENTINEL_PORT" \
    --raw SENTINEL get-master-addr-by-name "$MASTER_SET" 2>&1 | tr -d '\r')
  host=$(echo "$named" | sed -n 1p)
  port=$(echo "$named" | sed -n 2p)
  by_sentinel=$(as_monitor -h "$host" -p "$port" INFO server)
  if [ -n "$port" ] && [ "$(field "$by_sentinel" run_id)" = "$(field "$server" run_id)" ]; then
    ok "Sentinel names $host:$port, the master the endpoint serves"
  else
    bad "Sentinel names '$host:$port', not the endpoint's master ($(echo "$named" | head -n 1))"
  fi
  online=$(echo "$replication" | grep -c '^slave[0-9]*:.*state=online' || true)
  if [ "$online" -ge "$EXPECTED_REPLICAS" ]; then
    ok "$online of $EXPECTED_REPLICAS replicas online"
  else
    bad "$online of $EXPECTED_REPLICAS replicas online"
  fi
  for lag in $(echo "$replication" | sed -n 's/^slave[0-9]*:.*lag=\([0-9]*\).*$/\1/p'); do
    if [ "$lag" -le "$MAX_LAG_SECONDS" ]; then
      ok "replica lag ${lag}s within ${MAX_LAG_SECONDS}s"
    else
      bad "replica lag ${lag}s over ${MAX_LAG_SECONDS}s"
    fi
  done
fi

[ -r "$CHECKS_FILE" ] || bad "the role table $CHECKS_FILE is missing"
while read -r key user group db expect command; do
  [ -n "$key" ] || continue
  host=$REDIS_HOST
  port=$REDIS_PORT
  if [ "$group" = "cache" ]; then
    host=$CACHE_HOST
    port=${CACHE_PORT:-$REDIS_PORT}
  fi
  # shellcheck disable=SC2086 # the command's words are the table's words
  reply=$(redis_cli 5 "$user" "$(password_of "$key")" -h "$host" -p "$port" -n "$db" \
    $command 2>&1 </dev/null | tr -d '\r')
  # A failed AUTH is only a warning to redis-cli, which goes on as the default user.
  case "$reply" in
    *"AUTH failed"*) verdict="error: $(echo "$reply" | grep -m 1 'AUTH failed')" ;;
    NOPERM*) verdict=denied ;;
    WRONGPASS*|NOAUTH*|ERR*|*"Could not connect"*|"") verdict="error: $(echo "$reply" | head -n 1)" ;;
    *) verdict=ok ;;
  esac
  if [ "$verdict" = "$expect" ]; then
    ok "$user: $command -> $expect"
  else
    bad "$user: $command -> $verdict (expected $expect)"
  fi
done < "$CHECKS_FILE"

echo "helm-test: status=$([ "$failures" -eq 0 ] && echo ok || echo failed) passed=$passed failed=$failures"
[ "$failures" -eq 0 ]
