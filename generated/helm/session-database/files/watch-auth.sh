#!/bin/sh
# Follows password rotation without a restart. The kubelet updates the mounted Secret in place;
# every AUTH_POLL_SECONDS this rebuilds the ACL file from it, has the server reload it (as the
# reloader identity), and switches the passwords this server itself presents: a replica's
# masterauth, a Sentinel's auth-pass towards the data pods and sentinel-pass towards its peers.
# Usage: watch-auth.sh redis|sentinel PORT ACL_TEMPLATE
set -u
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
side=$1
port=$2
template=$3
acl="$RUNTIME_DIR/users.acl"
previous="$RUNTIME_DIR/reloader.previous"

# reloader_passwords: passwords the running server may accept for the reloader, one a line:
# the previous Secret's first (the server still has that ACL), then the current ones.
reloader_passwords() {
  cat "$previous" 2>/dev/null
  sed '/^[[:space:]]*$/d' "$AUTH_DIR/RELOADER_PASSWORD"
}

# as_reloader VALUE ARGS...: redis-cli as the reloader; a non-empty VALUE is sent as the last
# argument through stdin (redis-cli -x), so a password being set never appears on a command line.
as_reloader() {
  value=$1
  shift
  reloader_passwords | {
    while IFS= read -r password; do
      if [ -n "$value" ]; then
        answer=$(printf '%s' "$value" | REDISCLI_AUTH="$password" timeout 5 \
          redis-cli --user reloader -p "$port" -x "$@" 2>/dev/null)
      else
        answer=$(REDISCLI_AUTH="$password" timeout 5 redis-cli --user reloader -p "$port" "$@" \
          2>/dev/null)
      fi
      [ "$answer" = "OK" ] && exit 0
    done
    exit 1
  }
}

reload() {
  assemble_acl "$template" "$acl" || return 1
  as_reloader "" ACL LOAD || { echo "watch-auth: ACL LOAD refused" >&2; return 1; }
  case "$side" in
    redis)
      if [ "$REDIS_MODE" = "ha" ]; then
        as_reloader "$(password_of REPLICATION_PASSWORD)" CONFIG SET masterauth || return 1
      fi
      ;;
    sentinel)
      as_reloader "$(password_of SENTINEL_AUTH_PASSWORD)" SENTINEL SET "$MASTER_SET" auth-pass \
        || return 1
      as_reloader "$(password_of SENTINEL_PEER_PASSWORD)" SENTINEL CONFIG SET sentinel-pass \
        || return 1
      ;;
  esac
  (umask 077 && sed '/^$/d' "$AUTH_DIR/RELOADER_PASSWORD" > "$previous")
  echo "watch-auth: passwords reloaded"
}

(umask 077 && sed '/^$/d' "$AUTH_DIR/RELOADER_PASSWORD" > "$previous")
last=$(auth_fingerprint)
while sleep "${AUTH_POLL_SECONDS:-10}"; do
  now=$(auth_fingerprint)
  if [ "$now" != "$last" ] && reload; then
    last=$now
  fi
done
