#!/bin/sh
# Follows password rotation without a restart. The kubelet updates the mounted Secret in place;
# every AUTH_POLL_SECONDS this rebuilds the ACL file from it, has the server apply it user by
# user (ACL SETUSER as the reloader identity; not ACL LOAD, which in Redis 7.0 disconnects every
# authenticated client, whatever user changed), and switches the passwords this server itself
# presents (a replica's masterauth, a Sentinel's auth-pass towards the data pods and sentinel-pass
# towards its peers) once the rotation's overlap is over.
# With TLS on it also follows certificate renewal: cert-manager updates the certificate Secret,
# the kubelet the mounted files, and a data pod has Redis load them again (CONFIG SET of the
# tls-*-file settings re-reads the files). Sentinel 7.0 cannot (no CONFIG in Sentinel mode, and
# SENTINEL CONFIG SET refuses tls-* settings): it serves the new certificate after its next
# restart, well within renewBefore.
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
  passwords_of RELOADER_PASSWORD
}

# as_reloader VALUE ARGS...: redis-cli as the reloader; a non-empty VALUE is sent as the last
# argument through stdin (redis-cli -x), so a password being set never appears on a command line.
as_reloader() {
  value=$1
  shift
  reloader_passwords | {
    while IFS= read -r password; do
      if [ -n "$value" ]; then
        answer=$(printf '%s' "$value" | redis_cli 5 reloader "$password" -p "$port" -x "$@" \
          2>/dev/null)
      else
        answer=$(redis_cli 5 reloader "$password" -p "$port" "$@" 2>/dev/null)
      fi
      [ "$answer" = "OK" ] && exit 0
    done
    exit 1
  }
}

# as_reloader_batch: the commands on stdin, one a line, as the reloader; true when every one
# answered OK. They travel through stdin, so the password hashes never reach a command line.
as_reloader_batch() {
  batch=$(cat)
  expected=$(printf '%s\n' "$batch" | wc -l)
  reloader_passwords | {
    while IFS= read -r password; do
      answered=$(printf '%s\n' "$batch" | redis_cli 5 reloader "$password" -p "$port" 2>/dev/null \
        | grep -c '^OK$')
      [ "$answered" -eq "$expected" ] && exit 0
    done
    exit 1
  }
}

# present RECORD KEY COMMAND...: run COMMAND as the reloader with KEY's chosen password as its
# last argument, only when that is not the password already presented (RECORD).
present() {
  record=$1
  # Redis 7.0's SENTINEL SET auth-pass drops the Sentinel's links to that master and its
  # replicas: sent once per rotation, when the overlap is over, never on an unrelated change.
  password=$(current_or_newest "$2" "$(cat "$RUNTIME_DIR/$1.applied" 2>/dev/null)")
  shift 2
  print=$(printf '%s' "$password" | fingerprint)
  [ "$print" = "$(cat "$RUNTIME_DIR/$record.applied" 2>/dev/null)" ] && return 0
  as_reloader "$password" "$@" || return 1
  (umask 077 && echo "$print" > "$RUNTIME_DIR/$record.applied")
}

# presented RECORD KEY: record that the server started with KEY's newest password.
presented() {
  (umask 077 && password_of "$2" | tr -d '\n' | fingerprint > "$RUNTIME_DIR/$1.applied")
}

# publish_accepted: for the exporter sidecar, the fingerprints of the passwords the server
# accepts now for each key of AUTH_STATE_KEYS, in AUTH_STATE_DIR (only with the exporter on).
publish_accepted() {
  [ -n "${AUTH_STATE_DIR:-}" ] || return 0
  for key in ${AUTH_STATE_KEYS:-}; do
    passwords_of "$key" | while IFS= read -r password; do
      printf '%s' "$password" | fingerprint
    done > "$AUTH_STATE_DIR/$key.new" && mv "$AUTH_STATE_DIR/$key.new" "$AUTH_STATE_DIR/$key"
  done
}

reload() {
  assemble_acl "$template" "$acl" || return 1
  # Every line of the file is a whole user (on, passwords, keys, channels, commands), so
  # ACL SETUSER of the line leaves the user exactly as loading the file would.
  sed -n 's/^user /ACL SETUSER /p' "$acl" | as_reloader_batch \
    || { echo "watch-auth: ACL SETUSER refused" >&2; return 1; }
  publish_accepted
  case "$side" in
    redis)
      if [ "$REDIS_MODE" = "ha" ]; then
        present masterauth REPLICATION_PASSWORD CONFIG SET masterauth || return 1
      fi
      ;;
    sentinel)
      for set in $MASTER_SET ${CACHE_MASTER_SET:-}; do
        present "auth-pass-$set" SENTINEL_AUTH_PASSWORD SENTINEL SET "$set" auth-pass \
          || return 1
      done
      present sentinel-pass SENTINEL_PEER_PASSWORD SENTINEL CONFIG SET sentinel-pass || return 1
      ;;
  esac
  (umask 077 && passwords_of RELOADER_PASSWORD > "$previous")
  echo "watch-auth: passwords reloaded"
}

# reload_tls: have the server read the renewed certificate, key and CA. False while the files
# do not fit together yet (tried again at the next poll).
reload_tls() {
  case "$side" in
    redis)
      as_reloader "" CONFIG SET tls-cert-file "$TLS_DIR/tls.crt" \
        tls-key-file "$TLS_DIR/tls.key" tls-ca-cert-file "$TLS_DIR/ca.crt" || {
        echo "watch-auth: renewed certificate not loaded yet" >&2
        return 1
      }
      echo "watch-auth: renewed certificate loaded"
      ;;
    sentinel)
      echo "watch-auth: certificate renewed; Sentinel serves it after its next restart"
      ;;
  esac
}

(umask 077 && passwords_of RELOADER_PASSWORD > "$previous")
publish_accepted
# what the start script configured: the newest passwords of the Secret as mounted then
case "$side" in
  redis) presented masterauth REPLICATION_PASSWORD ;;
  sentinel)
    for set in $MASTER_SET ${CACHE_MASTER_SET:-}; do
      presented "auth-pass-$set" SENTINEL_AUTH_PASSWORD
    done
    presented sentinel-pass SENTINEL_PEER_PASSWORD
    ;;
esac
last=$(auth_fingerprint)
tls_last=$(tls_fingerprint)
while sleep "${AUTH_POLL_SECONDS:-10}"; do
  now=$(auth_fingerprint)
  if [ "$now" != "$last" ] && reload; then
    last=$now
  fi
  tls_now=$(tls_fingerprint)
  if [ "$tls_now" != "$tls_last" ] && reload_tls; then
    tls_last=$tls_now
  fi
done
