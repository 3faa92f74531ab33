#!/bin/sh
# Starts redis-server in the role the cluster already agreed on, so that a restarted pod
# rejoins the current master instead of coming back as a second one.
set -eu
. "$(dirname "$0")/lib.sh"
# Everything written here stays in the memory-backed runtime folder, readable by Redis only.
umask 077
conf="$RUNTIME_DIR/redis.conf"
acl_template="${CONFIG_FILE%/*}/users.acl"
assemble_acl "$acl_template" "$RUNTIME_DIR/users.acl"
{
  echo "include $CONFIG_FILE"
  listen_config "$REDIS_PORT"
  echo "dir $DATA_DIR"
  echo "aclfile $RUNTIME_DIR/users.acl"
} > "$conf"
# An init-time restore (restore.id) decides the role itself, once.
# shellcheck source=restore-start.sh
. "$(dirname "$0")/restore-start.sh"

if [ "$REDIS_MODE" = "ha" ]; then
  {
    echo "replica-announce-ip $ANNOUNCE_HOST"
    echo "replica-announce-port $REDIS_PORT"
    echo "masteruser replication"
    echo "masterauth $(config_quoted "$(password_of REPLICATION_PASSWORD)")"
  } >> "$conf"
  # 0. A restore: pod 0 is the master, every other pod its replica.
  if [ "$restore_master" = "yes" ]; then
    master_host="$ANNOUNCE_HOST" master_port="$REDIS_PORT"
  elif [ "$restore_master" = "no" ]; then
    master_host="$SEED_HOST" master_port="$SEED_PORT"
  else
    # 1. The Sentinels know the current master, also after a failover.
    sentinel_master 5 || true
  fi
  # 2. No Sentinel knows one (first start, full outage): the seed pod is the master.
  if [ -z "$master_host" ]; then
    master_host="$SEED_HOST"
    master_port="$SEED_PORT"
  fi
  if [ "$master_host" = "$ANNOUNCE_HOST" ] && [ "$master_port" = "$REDIS_PORT" ]; then
    echo "start-redis: starting as master"
  else
    echo "start-redis: starting as replica of $master_host:$master_port"
    echo "replicaof $master_host $master_port" >> "$conf"
  fi
fi
# Rotated passwords and renewed certificates take effect without a restart (the watcher lives as long as the server).
sh "$(dirname "$0")/watch-auth.sh" redis "$REDIS_PORT" "$acl_template" &
exec redis-server "$conf" "$@"
