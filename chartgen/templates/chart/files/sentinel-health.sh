#!/bin/sh
# sentinel-health.sh KIND BUDGET (the probe's timeoutSeconds; one second of it is left for
# starting the shell and redis-cli).
# liveness: Sentinel answers PING. readiness: it names a master for the master set (and for the
# cache's, CACHE_MASTER_SET, when the cache has a group of its own).
set -u
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
step=$((${2:-3} - 1))
[ "$step" -ge 1 ] || step=1
case "${1:-readiness}" in
  liveness) probe_cli "$step" -p "$SENTINEL_PORT" PING | grep -q PONG ;;
  *)
    for set in $MASTER_SET ${CACHE_MASTER_SET:-}; do
      probe_cli "$step" -p "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$set" \
        | grep -q . || exit 1
    done
    ;;
esac
