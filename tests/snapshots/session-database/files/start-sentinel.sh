#!/bin/sh
# Starts a Sentinel monitoring the master the cluster already has: one its peers know,
# else the data pod that reports role:master, else the seed pod (first start); with the cache
# on its own group (CACHE_MASTER_SET set), the cache's master set too.
set -eu
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
# digits only: a port or a replication offset
valid_port() {
  case "$1" in ''|*[!0-9]*) return 1 ;; esac
}
# find_master SET NODES: set master_host and master_port for the master set SET, whose data pods
# are NODES ("host:port ..."): the master its peers know, else the data pod that reports
# role:master, else the seed pod (the first of NODES: first start).
find_master() {
  master_host=""
  master_port=""
  for peer in $SENTINEL_PEERS; do
    [ "$peer" = "$ANNOUNCE_HOST:$SENTINEL_PORT" ] && continue
    reply=$(probe_cli 3 -h "${peer%:*}" -p "${peer##*:}" --raw \
      SENTINEL get-master-addr-by-name "$1" 2>/dev/null) || continue
    master_host=$(echo "$reply" | sed -n 1p)
    master_port=$(echo "$reply" | sed -n 2p)
    if valid_port "$master_port" && [ -n "$master_host" ]; then
      echo "start-sentinel: $1: master $master_host:$master_port from Sentinel $peer"
      break
    fi
    master_host=""
  done
  if [ -z "$master_host" ]; then
    # After a split brain more than one pod may claim the role: take the one that has
    # applied the most writes (highest replication offset).
    best_offset=-1
    for node in $2; do
      info=$(probe_cli 3 -h "${node%:*}" -p "${node##*:}" INFO replication \
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
      echo "start-sentinel: $1: master $master_host:$master_port reports role:master" \
        "(offset $best_offset)"
    fi
  fi
  if [ -z "$master_host" ]; then
    seed="${2%% *}"
    master_host="${seed%:*}"
    master_port="${seed##*:}"
    echo "start-sentinel: $1: no master found, using the seed $seed"
  fi
}
# monitor SET HOST PORT: the lines that make this Sentinel monitor one master set.
monitor() {
  echo "sentinel monitor $1 $2 $3 $QUORUM"
  echo "sentinel auth-user $1 sentinel"
  echo "sentinel auth-pass $1 $(config_quoted "$(password_of SENTINEL_AUTH_PASSWORD)")"
}
find_master "$MASTER_SET" "$REDIS_NODES"
sessions_host="$master_host" sessions_port="$master_port"
# The cache's own group (cache.group: separate): a second master set, the same quorum.
if [ -n "${CACHE_MASTER_SET:-}" ]; then
  find_master "$CACHE_MASTER_SET" "${CACHE_REDIS_NODES:-}"
  cache_host="$master_host" cache_port="$master_port"
fi
# Sentinel rewrites this file; it stays in the memory-backed runtime folder, readable by it only.
umask 077
conf="$RUNTIME_DIR/sentinel.conf"
assemble_acl "$CONFIG_DIR/users.acl" "$RUNTIME_DIR/users.acl"
{
  cat "$CONFIG_DIR/sentinel.conf"
  listen_config "$SENTINEL_PORT"
  echo "aclfile $RUNTIME_DIR/users.acl"
  echo "sentinel announce-ip $ANNOUNCE_HOST"
  echo "sentinel announce-port $SENTINEL_PORT"
  echo "sentinel sentinel-user sentinel"
  echo "sentinel sentinel-pass $(config_quoted "$(password_of SENTINEL_PEER_PASSWORD)")"
  monitor "$MASTER_SET" "$sessions_host" "$sessions_port"
  [ -z "${CACHE_MASTER_SET:-}" ] || monitor "$CACHE_MASTER_SET" "$cache_host" "$cache_port"
  cat "$CONFIG_DIR/master.conf"
} > "$conf"
# Rotated passwords take effect without a restart (the watcher lives as long as Sentinel).
sh "$(dirname "$0")/watch-auth.sh" sentinel "$SENTINEL_PORT" "$CONFIG_DIR/users.acl" &
exec redis-sentinel "$conf" "$@"
