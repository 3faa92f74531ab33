# Sourced by the data pods' scripts.
# shellcheck source=auth.sh
. "$(dirname "$0")/auth.sh"
# sentinel_master TIMEOUT: set master_host and master_port to the master the Sentinels
# (behind their Service) name; false, with both empty, when none answers with one.
sentinel_master() {
  master_host=""
  master_port=""
  named=$(probe_cli "$1" -h "$SENTINEL_HOST" -p "$SENTINEL_PORT" --raw \
    SENTINEL get-master-addr-by-name "$MASTER_SET" 2>/dev/null) || return 1
  master_host=$(echo "$named" | sed -n 1p)
  master_port=$(echo "$named" | sed -n 2p)
  case "$master_host:$master_port" in
    :*|*:|*:*[!0-9]*) master_host="" master_port=""; return 1 ;;
  esac
}
