#!/bin/sh
# Starts a Sentinel monitoring the master the cluster already has: one its peers know,
# else the data pod that reports role:master, else the seed pod (first start).
set -eu
# digits only: a port or a replication offset
valid_port() {
  case "$1" in ''|*[!0-9]*) return 1 ;; esac
}
master_host=""
master_port=""
for peer in $SENTINEL_PEERS; do
  [ "$peer" = "$ANNOUNCE_HOST:$SENTINEL_PORT" ] && continue
  reply=$(timeout 3 redis-cli -h "${peer%:*}" -p "${peer##*:}" --raw \
    SENTINEL get-master-addr-by-name "$MASTER_SET" 2>/dev/null) || continue
  master_host=$(echo "$reply" | sed -n 1p)
  master_port=$(echo "$reply" | sed -n 2p)
  if valid_port "$master_port" && [ -n "$master_host" ]; then
    echo "start-sentinel: master $master_host:$master_port from Sentinel $peer"
    break
  fi
  master_host=""
done
if [ -z "$master_host" ]; then
  # After a split brain more than one pod may claim the role: take the one that has
  # applied the most writes (highest replication offset).
  best_offset=-1
  for node in $REDIS_NODES; do
    info=$(timeout 3 redis-cli -h "${node%:*}" -p "${node##*:}" INFO replication \
      2>/dev/null | tr -d '\r') || continue
    case "$info" in *role:master*) ;; *) continue ;; esac
    offset=$(echo "$info" | sed -n 's/^master_repl_offset:\([0-9]*\)$/\1/p')
    if valid_port "${offset:-x}" && [ "$offset" -gt "$best_offset" ]; then
      best_offset="$offset"
      master_host="${node%:*}"
      master_port="${node##*:}"
    fi
  done
  if [ -n "$master_host" ]; then
    echo "start-sentinel: master $master_host:$master_port reports role:master" \
      "(offset $best_offset)"
  fi
fi
if [ -z "$master_host" ]; then
  seed="${REDIS_NODES%% *}"
  master_host="${seed%:*}"
  master_port="${seed##*:}"
  echo "start-sentinel: no master found, using the seed $seed"
fi
conf="$RUNTIME_DIR/sentinel.conf"
{
  cat "$CONFIG_DIR/sentinel.conf"
  echo "port $SENTINEL_PORT"
  echo "sentinel announce-ip $ANNOUNCE_HOST"
  echo "sentinel announce-port $SENTINEL_PORT"
  echo "sentinel monitor $MASTER_SET $master_host $master_port $QUORUM"
  cat "$CONFIG_DIR/master.conf"
} > "$conf"
exec redis-sentinel "$conf" "$@"
