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

# sentinel_votes TIMEOUT: ask every Sentinel of SENTINEL_PEERS ("host:port ...", each by its own
# pod name) at once for the master; print one "host:port" line per Sentinel that named one.
# Asked in parallel, so the worst case is one TIMEOUT, not one per Sentinel.
sentinel_votes() {
  ballots=$(mktemp -d "$RUNTIME_DIR/votes.XXXXXX") || return 1
  n=0
  for peer in $SENTINEL_PEERS; do
    n=$((n + 1))
    probe_cli "$1" -h "${peer%:*}" -p "${peer##*:}" --raw \
      SENTINEL get-master-addr-by-name "$MASTER_SET" >"$ballots/$n" 2>/dev/null &
  done
  wait
  for ballot in "$ballots"/*; do
    [ -f "$ballot" ] || continue
    vote="$(sed -n 1p "$ballot"):$(sed -n 2p "$ballot")"
    case "$vote" in
      :*|*:|*:*[!0-9]*) ;;
      *) echo "$vote" ;;
    esac
  done
  rm -rf "$ballots"
}

# sentinel_majority: how many Sentinels are a majority of all of them (not of those answering).
sentinel_majority() {
  echo $(($(echo "$SENTINEL_PEERS" | wc -w) / 2 + 1))
}
