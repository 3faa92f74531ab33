# Sourced by the scripts: passwords and the ACL file.
# Passwords live only in the mounted Secret, one file per key ($AUTH_DIR/<KEY>), one password
# per line while a password rotates: servers accept every line, clients use the last one.

# password_of KEY: the newest password of KEY.
password_of() {
  sed '/^[[:space:]]*$/d' "$AUTH_DIR/$1" | tail -n 1
}

# probe_cli TIMEOUT ARGS...: redis-cli as the chart's probe identity. The password travels in
# REDISCLI_AUTH, never on a command line.
probe_cli() {
  seconds=$1
  shift
  REDISCLI_AUTH=$(password_of PROBE_PASSWORD) timeout "$seconds" redis-cli --user probe "$@"
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
      while IFS= read -r password || [ -n "$password" ]; do
        [ -n "$password" ] || continue
        hashes="$hashes #$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)"
      done < "$AUTH_DIR/$key"
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
