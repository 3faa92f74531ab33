#!/bin/sh
# preStop: a master with connected replicas hands its role over before it stops, so a
# rolling update costs clients a short pause and a reconnect instead of
# down-after-milliseconds of failed writes, and no acknowledged write is lost.
set -u
[ "$REDIS_MODE" = "ha" ] || exit 0
. "$(dirname "$0")/lib.sh"
local_cli() { handover_cli 3 -p "$REDIS_PORT" "$@" 2>/dev/null; }
[ "$(local_cli ROLE | sed -n 1p)" = "master" ] || exit 0
replicas=$(local_cli INFO replication | sed -n 's/^connected_slaves:\([0-9]*\).*/\1/p')
if [ "${replicas:-0}" -eq 0 ]; then
  echo "pre-stop: no connected replica to hand over to"
  exit 0
fi
# Writes wait instead of landing here, so the promoted replica has every acknowledged one.
local_cli CLIENT PAUSE $((FAILOVER_WAIT_SECONDS * 1000)) WRITE > /dev/null
answer=$(handover_cli 5 -h "$SENTINEL_HOST" -p "$SENTINEL_PORT" \
  SENTINEL FAILOVER "$MASTER_SET" 2>&1)
echo "pre-stop: master with $replicas replica(s); Sentinel: $answer"
case "$answer" in
  OK|INPROG*) ;;
  *)
    # No failover is coming (no eligible replica, no Sentinel): do not hold writes for it.
    local_cli CLIENT UNPAUSE > /dev/null
    echo "pre-stop: stopping without a hand-over"
    exit 0
    ;;
esac
# Poll five times a second: clients' writes wait for as long as this loop runs.
polls=0
while [ "$polls" -lt $((FAILOVER_WAIT_SECONDS * 5)) ]; do
  if sentinel_master 3 && [ "$master_host:$master_port" != "$ANNOUNCE_HOST:$REDIS_PORT" ]; then
    # Follow the new master at once: paused writes then fail with READONLY and clients
    # reconnect through Sentinel, instead of writing to a master that no longer counts.
    local_cli REPLICAOF "$master_host" "$master_port" > /dev/null
    local_cli CLIENT UNPAUSE > /dev/null
    echo "pre-stop: replica of $master_host:$master_port after $((polls * 200)) ms"
    exit 0
  fi
  sleep 0.2
  polls=$((polls + 1))
done
local_cli CLIENT UNPAUSE > /dev/null
echo "pre-stop: still master after ${FAILOVER_WAIT_SECONDS}s; stopping anyway"
exit 0
