#!/bin/sh
# health.sh KIND BUDGET: the data pod's probes; BUDGET is the probe's timeoutSeconds, shared out
# so that the worst case (every step timing out) still ends before the kubelet gives up.
# startup: the server answers at all (LOADING is starting, not failing).
# liveness: the server answers (LOADING and MASTERDOWN are alive) and, in ha mode, is not cut
#   off: a majority of all the Sentinels, each asked by its own pod name, agree on one master
#   that this server neither is nor follows. Fewer answers or a split vote: no verdict, so a
#   single lagging or partitioned Sentinel cannot get a healthy master restarted.
# readiness: PONG, and on a replica a live link to its master.
set -u
. "$(dirname "$0")/lib.sh"
kind=${1:-readiness}
budget=${2:-3}
# Sequential steps of each kind (the Sentinels are asked in parallel: one step); one second of
# the budget is left for starting the shell and redis-cli.
case "$kind" in
  startup) steps=1 ;;
  liveness) steps=3 ;;
  *) steps=2 ;;
esac
step=$(((budget - 1) / steps))
[ "$step" -ge 1 ] || step=1
reply=$(probe_cli "$step" -p "$REDIS_PORT" PING 2>&1) || true
# outside_agreed_master: true when a majority of the Sentinels name one master and this server
# is not it and does not follow it; sets agreed and mine for the message.
outside_agreed_master() {
  [ "$REDIS_MODE" = "ha" ] || return 1
  info=$(probe_cli "$step" -p "$REDIS_PORT" INFO replication 2>/dev/null | tr -d '\r')
  case "$info" in
    *role:master*) mine="$ANNOUNCE_HOST:$REDIS_PORT" ;;
    *role:slave*)
      mine="$(echo "$info" | sed -n 's/^master_host://p'):$(echo "$info" \
        | sed -n 's/^master_port://p')"
      ;;
    *) return 1 ;;
  esac
  votes=$(sentinel_votes "$step")
  [ -n "$votes" ] || return 1
  # the address most Sentinels name, and how many name it
  top=$(echo "$votes" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1, $2 }')
  agreed=${top#* }
  [ "${top%% *}" -ge "$(sentinel_majority)" ] && [ "$mine" != "$agreed" ]
}
case "$kind" in
  startup)
    case "$reply" in PONG|LOADING*|MASTERDOWN*) exit 0 ;; esac
    ;;
  liveness)
    case "$reply" in
      LOADING*|MASTERDOWN*) exit 0 ;;
      PONG)
        if outside_agreed_master; then
          echo "a majority of the Sentinels agree on $agreed, this server is or follows $mine"
          exit 1
        fi
        exit 0
        ;;
    esac
    ;;
  readiness)
    if [ "$reply" = "PONG" ]; then
      info=$(probe_cli "$step" -p "$REDIS_PORT" INFO replication 2>&1) || true
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
