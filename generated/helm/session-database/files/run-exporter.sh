#!/bin/sh
# Runs redis_exporter (the arguments: its binary, then its flags) as the monitor role, with the
# password from the mounted Secret, and follows password rotation. redis_exporter reads its
# password once, at start (1.45's password file is a JSON map, not a Secret key), and logs in
# again on every scrape, so a rotated password would turn every scrape into redis_up 0. Every
# AUTH_POLL_SECONDS this picks the newest password of the Secret that the server in the pod
# accepts (its password watcher publishes their fingerprints in AUTH_STATE_DIR) and restarts the
# exporter when that changes: during a rotation's overlap, so no login is ever refused, at the
# cost of one scrape at most.
# Environment: AUTH_DIR (the mounted Secret), AUTH_FILE (its key with the password),
# AUTH_STATE_DIR, AUTH_POLL_SECONDS (default 10).
set -u
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"

exporter=""
running=""

# accepted_password: the newest password of AUTH_FILE the server accepts; the newest of all
# while the server has published nothing yet (it is starting).
accepted_password() {
  accepted="$AUTH_STATE_DIR/$AUTH_FILE"
  passwords_of "$AUTH_FILE" | {
    chosen=""
    while IFS= read -r password; do
      if [ ! -s "$accepted" ] \
        || grep -qx "$(printf '%s' "$password" | fingerprint)" "$accepted"; then
        chosen=$password
      fi
    done
    printf '%s' "$chosen"
  }
}

stop_exporter() {
  if [ -n "$exporter" ]; then
    kill "$exporter" 2>/dev/null
    wait "$exporter" 2>/dev/null
  fi
}
trap 'stop_exporter; exit 0' TERM INT

while :; do
  password=$(accepted_password)
  print=$(printf '%s' "$password" | fingerprint)
  if [ -z "$password" ]; then
    echo "run-exporter: no password of the Secret key $AUTH_FILE is accepted yet" >&2
  elif [ "$print" != "$running" ]; then
    stop_exporter
    REDIS_PASSWORD=$password "$@" &
    exporter=$!
    [ -z "$running" ] || echo "run-exporter: restarted the exporter with the rotated password"
    running=$print
  fi
  # An exporter that exits on its own ends the container: the kubelet restarts it, visibly.
  if [ -n "$exporter" ] && ! kill -0 "$exporter" 2>/dev/null; then
    wait "$exporter"
    exit $?
  fi
  # In the background, so that TERM is handled at once rather than after the sleep.
  sleep "${AUTH_POLL_SECONDS:-10}" &
  wait $!
done
