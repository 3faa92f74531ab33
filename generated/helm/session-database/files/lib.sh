# Sourced by the scripts below.
# sentinel_master TIMEOUT: set master_host and master_port to the master the Sentinels
# (behind their Service) name; false, with both empty, when none answers with one.
sentinel_master() {
  master_host=""
  master_port=""
  named=$(timeout "$1" redis-cli -h "$SENTINEL_HOST" -p "$SENTINEL_PORT" --raw \
    SENTINEL get-master-addr-by-name "$MASTER_SET" 2>/dev/null) || return 1
  master_host=$(echo "$named" | sed -n 1p)
  master_port=$(echo "$named" | sed -n 2p)
  case "$master_host:$master_port" in
    :*|*:|*:*[!0-9]*) master_host="" master_port=""; return 1 ;;
  esac
}
