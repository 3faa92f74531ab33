#!/bin/sh
# session-health-check.sh: the release's health on one screen (chart README, Health check).
#
#   ./scripts/jobHelpers/session-health-check.sh [-n NAMESPACE] [-r RELEASE] [--context CTX]
#       [--memory-warning PCT] [--memory-critical PCT] [--max-lag SECONDS]
#
# On a workstation (kubectl configured) it runs itself inside a running Sentinel pod of the
# release (a data pod in standalone mode) with `kubectl exec -i ... sh -s`, passing the release's
# settings ConfigMap as environment: that pod already has redis-cli, the `monitor` password, the
# CA when TLS is on, the addresses of every data pod and Sentinel, and the network policies that
# let it reach them. Inside a pod (AUTH_DIR holds MONITOR_PASSWORD) it checks, as `monitor`:
#   - every data pod: answers, its role, one master per group which the Sentinels name, the
#     master's replicas online and their lag, replicas' link to the master up;
#   - every Sentinel: SENTINEL CKQUORUM of every master set (both with cache.group separate);
#   - memory: used_memory against maxmemory;
#   - the cleanup jobs' and the backup job's last runs (cleanup:result:*, backup:result:*).
# Exit status: 0 ok, 1 warning, 2 critical, 3 the check could not run (usage, no kubectl, no
# pod). Prints no password. POSIX sh (BusyBox too: the image is Alpine).
set -u

NAMESPACE=${NAMESPACE:-session-database}
RELEASE=${RELEASE:-session-database}
CONTEXT=${CONTEXT:-}
usage() {
  sed -n '4,5p' "$0" 2>/dev/null | sed 's/^# *//' || true
  echo "exit status: 0 ok, 1 warning, 2 critical, 3 could not run"
}
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--namespace) NAMESPACE=${2:?}; shift 2 ;;
    -r|--release) RELEASE=${2:?}; shift 2 ;;
    --context) CONTEXT=${2:?}; shift 2 ;;
    --memory-warning) HEALTH_MEMORY_WARNING_PERCENT=${2:?}; shift 2 ;;
    --memory-critical) HEALTH_MEMORY_CRITICAL_PERCENT=${2:?}; shift 2 ;;
    --max-lag) HEALTH_MAX_LAG_SECONDS=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "session-health-check: unknown option $1" >&2; usage >&2; exit 3 ;;
  esac
done
for number in "${HEALTH_MEMORY_WARNING_PERCENT:-0}" "${HEALTH_MEMORY_CRITICAL_PERCENT:-0}" \
  "${HEALTH_MAX_LAG_SECONDS:-0}"; do
  case "$number" in ''|*[!0-9]*) echo "session-health-check: not a number: $number" >&2; exit 3 ;; esac
done

# --- on a workstation: run inside a pod of the release -------------------------------------
if [ ! -r "${AUTH_DIR:-/nonexistent}/MONITOR_PASSWORD" ]; then
  command -v kubectl >/dev/null 2>&1 || {
    echo "session-health-check: kubectl not found (or run it inside a pod of the release)" >&2
    exit 3
  }
  kc() {
    if [ -n "$CONTEXT" ]; then
      kubectl --context "$CONTEXT" -n "$NAMESPACE" "$@"
    else
      kubectl -n "$NAMESPACE" "$@"
    fi
  }
  running_pod() {
    kc get pods -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=$1" \
      --field-selector=status.phase=Running -o jsonpath='{.items[*].metadata.name}' 2>/dev/null |
      tr ' ' '\n' | sed -n 1p
  }
  container=sentinel
  pod=$(running_pod sentinel)
  if [ -z "$pod" ]; then
    container=redis
    pod=$(running_pod redis)
  fi
  if [ -z "$pod" ]; then
    echo "session-health-check: CRITICAL no running Sentinel or data pod of release $RELEASE in namespace $NAMESPACE" >&2
    exit 2
  fi
  # From the settings ConfigMap only what the check reads (thresholds, intervals, DB indexes;
  # never the pod's own addresses and ports), as plain KEY=value words.
  settings=$(kc get configmap -l "app.kubernetes.io/instance=$RELEASE" -o name 2>/dev/null |
    grep -- '-settings$' | sed -n 1p)
  [ -n "$settings" ] || { echo "session-health-check: no settings ConfigMap of release $RELEASE" >&2; exit 3; }
  # shellcheck disable=SC2016 # a go-template, not shell
  environment=$(kc get "$settings" \
    -o go-template='{{range $k, $v := .data}}{{$k}}={{$v}}{{"\n"}}{{end}}' 2>/dev/null |
    grep -E '^(HEALTH_[A-Z_]+|SESSION_DB|CACHE_DB|CLEANUP_INTERVAL_SECONDS|CACHE_CLEANUP_INTERVAL_SECONDS)=[0-9]*$' |
    tr '\n' ' ')
  for option in HEALTH_MEMORY_WARNING_PERCENT HEALTH_MEMORY_CRITICAL_PERCENT HEALTH_MAX_LAG_SECONDS; do
    eval "given=\${$option:-}"
    # shellcheck disable=SC2154 # set by the eval
    [ -z "$given" ] || environment="$environment $option=$given"
  done
  # shellcheck disable=SC2086 # the settings' words are KEY=value pairs without spaces
  kc exec -i "$pod" -c "$container" -- env $environment sh -s < "$0"
  exit $?
fi

# --- inside a pod: the checks ---------------------------------------------------------------
TIMEOUT=${HEALTH_TIMEOUT_SECONDS:-5}
MEM_WARN=${HEALTH_MEMORY_WARNING_PERCENT:-85}
MEM_CRIT=${HEALTH_MEMORY_CRITICAL_PERCENT:-95}
MAX_LAG=${HEALTH_MAX_LAG_SECONDS:-5}
PASSWORD=$(awk '{ sub(/\r$/, "") } NF' "$AUTH_DIR/MONITOR_PASSWORD" | tail -n 1)
now=$(date +%s)
oks=0 warnings=0 criticals=0

ok() { oks=$((oks + 1)); echo "OK   $*"; }
warn() { warnings=$((warnings + 1)); echo "WARN $*"; }
crit() { criticals=$((criticals + 1)); echo "CRIT $*"; }

# rcli HOST:PORT ARGS...: redis-cli as monitor (password in REDISCLI_AUTH, never on a command
# line), TLS when TLS_DIR is set; stdout and stderr, carriage returns dropped.
rcli() {
  address=$1
  shift
  if [ -n "${TLS_DIR:-}" ]; then
    set -- --tls --cacert "$TLS_DIR/ca.crt" "$@"
  fi
  REDISCLI_AUTH=$PASSWORD timeout "$TIMEOUT" redis-cli --user monitor \
    -h "${address%:*}" -p "${address##*:}" "$@" 2>&1 | tr -d '\r'
}
# failed REPLY: true when REPLY is no answer (connection, authentication or ACL error).
failed() {
  case "$1" in
    ''|*"AUTH failed"*|NOAUTH*|NOPERM*|WRONGPASS*|ERR*|*"Could not connect"*|*"Connection refused"*) return 0 ;;
  esac
  return 1
}
field() { echo "$1" | sed -n "s/^$2:\(.*\)$/\1/p" | sed -n 1p; }
short() {
  case "${1%:*}" in
    *[!0-9.]*) echo "${1%%.*}" ;;
    *) echo "$1" ;;
  esac
}
# first_line TEXT: the first line, short and without quotes (for a message).
first_line() { echo "$1" | sed -n 1p | cut -c 1-80 | tr -d '"'; }

# sentinel_named SENTINEL SET: "host:port" of SET's master as that Sentinel names it and its
# flags ("host:port flags"), from SENTINEL masters (the monitor user's Sentinel rights).
sentinel_named() {
  rcli "$1" --raw SENTINEL masters | awk -v set="$2" '
    NR % 2 == 1 { key = $0; next }
    key == "name" { name = $0 }
    name == set && key == "ip" { ip = $0 }
    name == set && key == "port" { port = $0 }
    name == set && key == "flags" { print ip ":" port, $0; exit }'
}

# check_group LABEL SET NODES: the data pods of one group against what the Sentinels name.
check_group() {
  label=$1 group_set=$2 nodes=$3
  named=""
  if [ -n "$group_set" ]; then
    for peer in $SENTINEL_PEERS; do
      named=$(sentinel_named "$peer" "$group_set" | cut -d ' ' -f 1)
      [ -z "$named" ] || break
    done
    [ -n "$named" ] || crit "$label: no Sentinel names a master of $group_set"
  fi
  expected=$(($(echo "$nodes" | wc -w) - 1))
  masters=""
  for node in $nodes; do
    reply=$(rcli "$node" INFO replication memory)
    if failed "$reply"; then
      crit "$label $(short "$node"): no answer ($(first_line "$reply"))"
      continue
    fi
    role=$(field "$reply" role)
    used=$(field "$reply" used_memory)
    max=$(field "$reply" maxmemory)
    memory="memory ${used:-?} B, no maxmemory"
    memory_state=ok
    if [ -n "$max" ] && [ "$max" -gt 0 ] 2>/dev/null; then
      percent=$((used * 100 / max))
      memory="memory $percent% of maxmemory"
      if [ "$percent" -ge "$MEM_CRIT" ]; then
        memory_state=crit memory="$memory (critical from $MEM_CRIT%)"
      elif [ "$percent" -ge "$MEM_WARN" ]; then
        memory_state=warn memory="$memory (warning from $MEM_WARN%)"
      fi
    fi
    if [ "$role" = master ]; then
      masters="$masters $node"
      online=$(echo "$reply" | grep -c '^slave[0-9]*:.*state=online' || true)
      lag=$(echo "$reply" | sed -n 's/^slave[0-9]*:.*lag=\([0-9]*\).*$/\1/p' | sort -n | tail -n 1)
      text="$label $(short "$node"): master, $online/$expected replicas online, max lag ${lag:-0}s, $memory"
      state=$memory_state
      if [ "$online" -lt "$expected" ]; then
        state=crit
      elif [ "${lag:-0}" -gt "$MAX_LAG" ] && [ "$state" = ok ]; then
        state=warn text="$text (lag over ${MAX_LAG}s)"
      fi
      if [ -n "$named" ] && [ "$named" != "$node" ]; then
        state=crit text="$text; the Sentinels name $(short "$named")"
      fi
    else
      link=$(field "$reply" master_link_status)
      upstream="$(field "$reply" master_host):$(field "$reply" master_port)"
      text="$label $(short "$node"): $role of $(short "$upstream"), link ${link:-?}, $memory"
      state=$memory_state
      if [ "$link" != up ] || { [ -n "$named" ] && [ "$upstream" != "$named" ]; }; then
        state=crit
      fi
    fi
    "$state" "$text"
  done
  count=$(echo "$masters" | wc -w)
  if [ "$count" -gt 1 ]; then
    crit "$label: $count data pods answer as master:$masters"
  elif [ "$count" -eq 0 ] && [ -n "$nodes" ]; then
    crit "$label: no data pod answers as master"
  fi
}

# check_sentinels SETS: SENTINEL CKQUORUM of every set on every Sentinel.
check_sentinels() {
  total=$(echo "$SENTINEL_PEERS" | wc -w)
  majority=$((total / 2 + 1))
  reachable=0
  for peer in $SENTINEL_PEERS; do
    good="" bad=""
    answered=no
    for set in $1; do
      reply=$(rcli "$peer" SENTINEL CKQUORUM "$set")
      case "$reply" in
        OK*) good="$good $set"; answered=yes ;;
        NOQUORUM*) bad="$bad $set: $(first_line "$reply" | cut -d ' ' -f 1-4)"; answered=yes ;;
        *) bad="$bad $set: $(first_line "$reply");" ;;
      esac
    done
    [ "$answered" = no ] || reachable=$((reachable + 1))
    if [ -z "$bad" ]; then
      ok "sentinel $(short "$peer"): quorum reachable for$good"
    elif [ "$answered" = no ]; then
      warn "sentinel $(short "$peer"): no answer ($(first_line "$reply"))"
    else
      crit "sentinel $(short "$peer"): CKQUORUM failed:$bad"
    fi
  done
  if [ "$reachable" -lt "$majority" ]; then
    crit "sentinels: $reachable of $total answer, a failover needs $majority"
  fi
}

# check_result LABEL NODE DB PREFIX WARN_AGE CRIT_AGE MAX_FAILURES: a job's last run.
check_result() {
  label=$1 node=$2 db=$3 prefix=$4 warn_age=$5 crit_age=$6 max_failures=$7
  if [ -z "$node" ]; then
    crit "$label: no master to read $prefix:* from"
    return
  fi
  # --no-raw: a missing key is `(nil)`, a value `"<digits>"`, anything else an error
  last=$(rcli "$node" -n "$db" --no-raw GET "$prefix:last_success")
  failures=$(rcli "$node" -n "$db" --no-raw GET "$prefix:failures" | tr -d '"')
  case "$last" in
    '(nil)') last="" ;;
    \"*\") last=$(echo "$last" | tr -d '"') ;;
    *) crit "$label: cannot read $prefix:last_success ($(first_line "$last"))"; return ;;
  esac
  case "$failures" in ''|*[!0-9]*) failures=0 ;; esac
  case "$last" in
    ''|*[!0-9]*)
      if [ "$failures" -ge "$max_failures" ]; then
        crit "$label: never succeeded, $failures failed runs in a row"
      else
        warn "$label: no successful run recorded ($prefix:last_success)"
      fi
      return ;;
  esac
  age=$((now - last))
  text="$label: last success ${age}s ago, $failures failed runs since"
  if [ "$age" -gt "$crit_age" ] || [ "$failures" -ge "$max_failures" ]; then
    crit "$text (critical from ${crit_age}s or $max_failures failures)"
  elif [ "$age" -gt "$warn_age" ] || [ "$failures" -gt 0 ]; then
    warn "$text (warning from ${warn_age}s)"
  else
    ok "$text"
  fi
}

# the master of a group: the data pod that answered as the only master
master_of() {
  for node in $1; do
    [ "$(field "$(rcli "$node" INFO replication)" role)" != master ] || { echo "$node"; return; }
  done
}

if [ -n "${SENTINEL_PEERS:-}" ]; then
  sessions_nodes=${REDIS_NODES:-}
  [ -n "$sessions_nodes" ] || { echo "session-health-check: REDIS_NODES unset: run it in a Sentinel pod" >&2; exit 3; }
  sets=${MASTER_SET:?}
  check_group sessions "$sets" "$sessions_nodes"
  cache_nodes=$sessions_nodes
  if [ -n "${CACHE_MASTER_SET:-}" ] && [ -n "${CACHE_REDIS_NODES:-}" ]; then
    check_group cache "$CACHE_MASTER_SET" "$CACHE_REDIS_NODES"
    sets="$sets $CACHE_MASTER_SET"
    cache_nodes=$CACHE_REDIS_NODES
  fi
  check_sentinels "$sets"
else
  sessions_nodes="${HEALTH_REDIS_HOST:-127.0.0.1}:${REDIS_PORT:-6379}"
  cache_nodes=$sessions_nodes
  check_group redis "" "$sessions_nodes"
fi

sessions_master=$(master_of "$sessions_nodes")
cache_master=$(master_of "$cache_nodes")
session_interval=${CLEANUP_INTERVAL_SECONDS:-300}
cache_interval=${CACHE_CLEANUP_INTERVAL_SECONDS:-600}
cleanup_crit=${HEALTH_CLEANUP_MAX_AGE_SECONDS:-3600}
cleanup_failures=${HEALTH_CLEANUP_FAILURES:-3}
# a run may be late by one interval (a missed start, a long run) before it is a warning
check_result "cleanup sessions" "$sessions_master" "${SESSION_DB:-0}" cleanup:result:sessions \
  $((2 * session_interval)) "$cleanup_crit" "$cleanup_failures"
check_result "cleanup cache" "$cache_master" "${CACHE_DB:-1}" cleanup:result:cache \
  $((2 * cache_interval)) "$cleanup_crit" "$cleanup_failures"
if [ "${HEALTH_BACKUP_MAX_AGE_SECONDS:-0}" -gt 0 ]; then
  check_result backup "$sessions_master" "${SESSION_DB:-0}" backup:result \
    "$HEALTH_BACKUP_MAX_AGE_SECONDS" "${HEALTH_BACKUP_CRITICAL_AGE_SECONDS:-90000}" \
    "${HEALTH_BACKUP_FAILURES:-1}"
else
  ok "backup: not enabled (backup.enabled false)"
fi

status=ok code=0
if [ "$criticals" -gt 0 ]; then
  status=critical code=2
elif [ "$warnings" -gt 0 ]; then
  status=warning code=1
fi
echo "session-health-check: status=$status ok=$oks warnings=$warnings critical=$criticals"
exit "$code"
