# Sourced by the scripts: passwords, the ACL file, and TLS (on when TLS_DIR names the mounted
# certificate Secret: tls.crt, tls.key, ca.crt).
# Passwords live only in the mounted Secret, one file per key ($AUTH_DIR/<KEY>), one password
# per line while a password rotates: servers accept every line, clients use the last one.

# passwords_of KEY: every password of KEY, one a line, each line ended (Secret values usually
# lack a final newline), carriage returns and blank lines dropped. The one reading of the
# Secret files, so servers and clients agree on what a password is.
passwords_of() {
  awk '{ sub(/\r$/, "") } NF' "$AUTH_DIR/$1"
}

# fingerprint: the sha256 of the password on stdin (what a record keeps, never the text).
fingerprint() {
  sha256sum | cut -d' ' -f1
}

# current_or_newest KEY PRINT: the password of KEY whose fingerprint is PRINT while the Secret
# still lists it, else the newest. For a password presented to another pod: during a rotation's
# overlap that pod may not accept the new one yet (each pod follows its own copy of the Secret,
# on its own poll); once the current one leaves the Secret, the overlap is over.
current_or_newest() {
  passwords_of "$1" | {
    chosen=""
    while IFS= read -r password; do
      chosen=$password
      [ "$(printf '%s' "$password" | fingerprint)" = "$2" ] && break
    done
    printf '%s' "$chosen"
  }
}

# password_of KEY: the newest password of KEY.
password_of() {
  passwords_of "$1" | tail -n 1
}

# redis_cli TIMEOUT USER PASSWORD ARGS...: redis-cli as USER, over TLS when TLS_DIR is set (the
# server's certificate checked against the mounted CA). The password travels in REDISCLI_AUTH,
# never on a command line.
redis_cli() {
  cli_seconds=$1
  cli_user=$2
  cli_password=$3
  shift 3
  if [ -n "${TLS_DIR:-}" ]; then
    set -- --tls --cacert "$TLS_DIR/ca.crt" "$@"
  fi
  REDISCLI_AUTH=$cli_password timeout "$cli_seconds" redis-cli --user "$cli_user" "$@"
}

# probe_cli TIMEOUT ARGS...: redis-cli as the chart's probe identity.
probe_cli() {
  seconds=$1
  shift
  redis_cli "$seconds" probe "$(password_of PROBE_PASSWORD)" "$@"
}

# handover_cli TIMEOUT ARGS...: redis-cli as the identity that may pause writes, follow another
# master and ask Sentinel to fail over (pre-stop.sh only).
handover_cli() {
  seconds=$1
  shift
  redis_cli "$seconds" handover "$(password_of HANDOVER_PASSWORD)" "$@"
}

# listen_config PORT: the config lines that serve PORT; with TLS_DIR set, TLS only (`port 0`),
# TLS towards masters and Sentinels too (tls-replication), clients authenticated by password
# rather than by certificate.
listen_config() {
  if [ -z "${TLS_DIR:-}" ]; then
    echo "port $1"
    return
  fi
  echo "port 0"
  echo "tls-port $1"
  echo "tls-cert-file $(config_quoted "$TLS_DIR/tls.crt")"
  echo "tls-key-file $(config_quoted "$TLS_DIR/tls.key")"
  echo "tls-ca-cert-file $(config_quoted "$TLS_DIR/ca.crt")"
  echo "tls-auth-clients no"
  echo "tls-replication yes"
}

# assemble_acl TEMPLATE OUT: the ACL file. Each template line is `<KEY> user <name> on
# resetpass <rules>` (`-` for a user that is off); the line gets `#<sha256>` of every password
# in $AUTH_DIR/<KEY>, so the clear text never lands in the file. Written whole, then renamed.
assemble_acl() {
  staging="$2.new"
  (umask 077 && : > "$staging")
  while read -r key rest; do
    hashes=""
    if [ "$key" != "-" ]; then
      hashes=$(passwords_of "$key" | while IFS= read -r password; do
        printf ' #%s' "$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)"
      done)
      if [ -z "$hashes" ]; then
        echo "auth: the Secret key $key holds no password" >&2
        rm -f "$staging"
        return 1
      fi
    fi
    printf '%s\n' "$rest" | sed "s/ resetpass / resetpass$hashes /" >> "$staging"
  done < "$1"
  mv "$staging" "$2"
}

# config_quoted VALUE: VALUE as a double-quoted redis.conf / sentinel.conf string.
config_quoted() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# auth_fingerprint: changes whenever the kubelet updates the mounted Secret.
auth_fingerprint() {
  cat "$AUTH_DIR"/* 2>/dev/null | cksum
}

# tls_fingerprint: changes whenever cert-manager renews the certificate (empty without TLS).
tls_fingerprint() {
  [ -n "${TLS_DIR:-}" ] || return 0
  cat "$TLS_DIR"/* 2>/dev/null | cksum
}
