#!/bin/sh
# The master endpoint's HAProxy. Its config reads the probe identity's password from the
# environment ("${PROBE_PASSWORD}"), so the password is never in a file HAProxy reads; this
# script puts the newest one there, with its length in bytes (the check sends RESP).
# Password rotation: when the mounted Secret changes, a new HAProxy starts with the new password
# and takes the port over (-sf); the previous one finishes its connections and exits.
# Usage: start-endpoint.sh (CONFIG_FILE, AUTH_DIR; AUTH_POLL_SECONDS, default 10)
set -u
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"

# launch [HAPROXY ARGS...]: start HAProxy with the newest probe password; its pid in $pid.
launch() {
  PROBE_PASSWORD=$(password_of PROBE_PASSWORD)
  if [ -z "$PROBE_PASSWORD" ]; then
    echo "endpoint: the Secret key PROBE_PASSWORD holds no password" >&2
    exit 1
  fi
  PROBE_PASSWORD_BYTES=$(printf '%s' "$PROBE_PASSWORD" | wc -c | tr -d ' ')
  export PROBE_PASSWORD PROBE_PASSWORD_BYTES
  haproxy -db -f "$CONFIG_FILE" "$@" &
  pid=$!
  pids="$pids $pid"
}

pids=""
# Pod stop: every HAProxy stops at once; clients reconnect through the other endpoint pods.
trap 'kill -TERM $pids 2>/dev/null; wait; exit 0' TERM INT

fingerprint=$(auth_fingerprint)
launch
while kill -0 "$pid" 2>/dev/null; do
  # sleep in the background so that a TERM is handled at once
  sleep "${AUTH_POLL_SECONDS:-10}" &
  wait $!
  now=$(auth_fingerprint)
  if [ "$now" != "$fingerprint" ]; then
    fingerprint=$now
    echo "endpoint: the probe password changed; handing over to a new HAProxy"
    launch -sf "$pid"
  fi
done
echo "endpoint: HAProxy exited" >&2
exit 1
