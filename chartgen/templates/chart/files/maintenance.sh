# Sourced by the cleanup jobs (cleanup-sessions.sh, cleanup-cache.sh): where the master is,
# redis-cli as the `cleanup` user, command batches over one connection, and the run's record.
# Environment (set by the chart's maintenance target template): REDIS_DB, and either
# SENTINEL_HOST/SENTINEL_PORT/MASTER_SET (ha: the master named by the Sentinels) or
# REDIS_HOST/REDIS_PORT (standalone); AUTH_DIR (CLEANUP_PASSWORD, PROBE_PASSWORD), TLS_DIR when
# TLS is on, RUNTIME_DIR (scratch space), BATCH_SIZE, CLI_TIMEOUT_SECONDS, SCAN_COUNT (keys a
# SCAN step looks at; default 2000: about a millisecond of the server).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d "$RUNTIME_DIR/cleanup.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
errors=0
first_reply=""
target=""

# Keys and members the jobs handle: printable, without space, quote, backslash or comma (the
# data contract's ids), so a command line needs no quoting and a CSV reply splits on commas.
SAFE='^[A-Za-z0-9_.:@+=/-]+$'

# finish STATUS SUMMARY: the one-line summary (key=value, for log pipelines), the run's record
# in Redis for the monitoring, and the exit status (0 only when STATUS is ok).
finish() {
  duration=$(($(date +%s) - started))
  # the first error reply says why (READONLY after a failover, NOREPLICAS, OOM, NOPERM)
  echo "job=$JOB status=$1 $2 errors=$errors${first_reply:+ error_reply=\"$first_reply\"}" \
    "duration_seconds=$duration master=${target:-none}"
  if [ -n "$target" ]; then
    record "$1" "$duration" || echo "job=$JOB warning=\"run not recorded in Redis\""
  fi
  [ "$1" = ok ]
}

# fail REASON: end the run as failed; what was removed so far stays removed (every step is
# safe to repeat), the next run finishes the work.
fail() {
  echo "$JOB: $1" >&2
  finish failed "removed=${removed:-0} reason=\"$1\""
  exit 1
}

# record STATUS DURATION: cleanup:result:<results>:* strings (numbers the exporter's key checks
# read: chart README, Monitoring).
record() {
  now=$(date +%s)
  prefix="cleanup:result:$RESULTS"
  if [ "$1" = ok ]; then
    outcome="SET $prefix:failures 0
SET $prefix:last_success $now"
  else
    outcome="INCR $prefix:failures"
  fi
  printf 'MULTI\nSET %s:last_run %s\nSET %s:removed %s\nSET %s:duration_seconds %s\n%s\nEXEC\n' \
    "$prefix" "$now" "$prefix" "${removed:-0}" "$prefix" "$2" "$outcome" \
    | cleanup_cli --csv > "$work/record" 2>&1 || return 1
  tail -n 1 "$work/record" | grep -qv ERROR
}

# find_master: target_host/target_port of the master (the Sentinels' answer in ha mode).
find_master() {
  if [ -n "${MASTER_SET:-}" ]; then
    sentinel_master 5 || fail "no Sentinel at $SENTINEL_HOST:$SENTINEL_PORT names a master of $MASTER_SET"
    target_host=$master_host
    target_port=$master_port
  else
    target_host=$REDIS_HOST
    target_port=$REDIS_PORT
  fi
  target="$target_host:$target_port"
}

# cleanup_cli ARGS...: redis-cli as the cleanup user on the master, in REDIS_DB.
cleanup_cli() {
  redis_cli "${CLI_TIMEOUT_SECONDS:-120}" cleanup "$(password_of CLEANUP_PASSWORD)" \
    -h "$target_host" -p "$target_port" -n "$REDIS_DB" "$@"
}

# server_time_ms: the master's clock in milliseconds (the scores of the indexes are compared
# with it, never with this pod's clock).
server_time_ms() {
  # shell arithmetic (64 bits): some awks print large numbers in exponent form or clamp them
  time=$(cleanup_cli TIME | tr '\n' ' ')
  case "$time" in
    [0-9]*' '[0-9]*' ') echo $((${time%% *} * 1000 + ${time#* } / 1000)) ;;
  esac
}

# exchange PLAN OUT: the commands of PLAN (lines `tag<TAB>tag<TAB>command`) over one connection;
# OUT gets each plan line with the reply (CSV, one line) appended after a tab. False when the
# connection failed or a reply is missing (redis-cli itself exits 0 then); error replies are
# counted in `errors`.
exchange() {
  cut -f 3 "$1" > "$work/commands"
  sent=$(wc -l < "$work/commands")
  if [ "$sent" -eq 0 ]; then
    : > "$2"
    return 0
  fi
  cleanup_cli --csv < "$work/commands" > "$work/replies" 2> "$work/stderr" || return 1
  [ "$(wc -l < "$work/replies")" -eq "$sent" ] || return 1
  paste "$1" "$work/replies" > "$2"
  errors=$((errors + $(awk -F '\t' '$4 ~ /^ERROR,/ { n++ } END { print n + 0 }' "$2")))
  if [ -z "$first_reply" ]; then
    first_reply=$(awk -F '\t' '$4 ~ /^ERROR,/ { print substr($4, 7); exit }' "$2" \
      | tr -d '\\"' | cut -c 1-100)
  fi
}

# exchange_or_fail PLAN OUT WHAT
exchange_or_fail() {
  exchange "$1" "$2" || fail "$3: no complete reply from $target ($(first_error))"
}

# first_error: the first line redis-cli wrote to stderr, short and without quotes.
first_error() {
  head -n 1 "$work/stderr" | cut -c 1-120 | tr -d '"'
}

# scan_keys PATTERN OUT: every key matching PATTERN, by SCAN in steps of SCAN_COUNT (never
# KEYS); keys outside the contract's characters are left alone.
scan_keys() {
  cursor=0
  : > "$2"
  while :; do
    cleanup_cli --csv SCAN "$cursor" MATCH "$1" COUNT "${SCAN_COUNT:-2000}" \
      > "$work/scanned" 2> "$work/stderr" || fail "SCAN $1 failed ($(first_error))"
    # one line: "cursor","key",...
    cursor=$(sed -n '1s/^"\([0-9]*\)".*/\1/p' "$work/scanned")
    case "$cursor" in ''|*[!0-9]*) fail "SCAN $1: no cursor from $target ($(first_error))" ;; esac
    sed -n '1s/^"[0-9]*",*//p' "$work/scanned" | tr ',' '\n' | sed -n 's/^"\(.*\)"$/\1/p' \
      | grep -E "$SAFE" >> "$2" || true
    [ "$cursor" != 0 ] || break
  done
}
