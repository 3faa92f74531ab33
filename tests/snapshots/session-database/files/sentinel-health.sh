#!/bin/sh
# liveness: Sentinel answers PING. readiness: it names a master for the master set.
set -u
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
case "${1:-readiness}" in
  liveness) probe_cli 3 -p "$SENTINEL_PORT" PING | grep -q PONG ;;
  *) probe_cli 3 -p "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$MASTER_SET" | grep -q . ;;
esac
