#!/bin/sh
# liveness: the server answers (LOADING and MASTERDOWN are alive) and, in ha mode, is or
#   follows the master the Sentinels agree on; one cut off in a split brain is restarted
#   and rejoins (start-redis.sh asks the Sentinels). No Sentinel answering: no verdict.
# readiness: PONG, and on a replica a live link to its master.
set -u
. "$(dirname "$0")/lib.sh"
reply=$(probe_cli 3 -p "$REDIS_PORT" PING 2>&1) || true
outside_agreed_master() {
  [ "$REDIS_MODE" = "ha" ] || return 1
  sentinel_master 3 || return 1
  agreed="$master_host:$master_port"
  info=$(probe_cli 3 -p "$REDIS_PORT" INFO replication 2>/dev/null | tr -d '\r')
  case "$info" in
    *role:master*) mine="$ANNOUNCE_HOST:$REDIS_PORT" ;;
    *role:slave*)
      mine="$(echo "$info" | sed -n 's/^master_host://p'):$(echo "$info" \
        | sed -n 's/^master_port://p')"
      ;;
    *) return 1 ;;
  esac
  [ "$mine" != "$agreed" ]
}
case "${1:-readiness}" in
  liveness)
    case "$reply" in
      LOADING*|MASTERDOWN*) exit 0 ;;
      PONG)
        if outside_agreed_master; then
          echo "the Sentinels agree on $agreed, this server is or follows $mine"
          exit 1
        fi
        exit 0
        ;;
    esac
    ;;
  readiness)
    if [ "$reply" = "PONG" ]; then
      info=$(probe_cli 3 -p "$REDIS_PORT" INFO replication 2>&1) || true
      case "$info" in
        *role:slave*) case "$info" in *master_link_status:up*) exit 0 ;; esac ;;
        *role:master*) exit 0 ;;
      esac
      reply="replica has no live link to its master"
    fi
    ;;
esac
echo "$reply"
exit 1
