#!/bin/sh
# cleanup-cache.sh: the service cache's cleanup (chart README, Data contract). For every
# per-service index (cache:<service>:index, a sorted set of entry keys scored by last access in
# unix milliseconds):
#   1. drops entries whose key (cache:<service>:<key>) is gone (expired or deleted), a page of
#      BATCH_SIZE at a time: ZRANGE, one EXISTS per entry, ZREM of the gone ones;
#   2. enforces CACHE_MAX_ENTRIES_PER_SERVICE, least recently used first, BATCH_SIZE at a time: one
#      MULTI reads and removes the lowest ranks and returns the count left, so the choice and
#      the removal are one atomic step (an entry touched meanwhile has a new score and stays);
#      entries removed beyond the limit because others left meanwhile are put back (ZADD NX,
#      their old score); then the removed entries' keys are UNLINKed.
# Idempotent; a run that fails part-way leaves every index consistent and the next run
# finishes the work. Commands are short (at most BATCH_SIZE keys); no KEYS, no scripts.
set -u
JOB=cache-cleanup
RESULTS=cache  # cleanup:result:cache:* (the monitoring's key checks)
# shellcheck source=maintenance.sh
. "$(dirname "$0")/maintenance.sh"
SERVICE='^cache:[A-Za-z0-9_.-]+:index$'

find_master
scan_keys 'cache:*:index' "$work/scanned-indexes"
grep -E "$SERVICE" "$work/scanned-indexes" > "$work/indexes" || true

services=0 gone=0 evicted=0 restored=0 deleted=0
removed=0

# card INDEX: its entry count now, in `left`
card() {
  printf 'x\tcard\tZCARD %s\n' "$1" > "$work/plan"
  exchange_or_fail "$work/plan" "$work/card" "ZCARD $1"
  left=$(cut -f 4 "$work/card")
  case "$left" in ''|*[!0-9]*) fail "ZCARD $1: $left" ;; esac
}

# drop_gone INDEX PREFIX: page through INDEX by rank, ZREM the entries whose key is gone.
drop_gone() {
  start=0
  while :; do
    printf 'x\tpage\tZRANGE %s %d %d\n' "$1" "$start" $((start + BATCH_SIZE - 1)) > "$work/plan"
    exchange_or_fail "$work/plan" "$work/page" "reading $1"
    awk -F '\t' -v prefix="$2" -v safe="$SAFE" '{
      n = split($4, m, ",")
      for (i = 1; i <= n; i++) {
        member = m[i]
        if (member !~ /^".*"$/) continue
        gsub(/^"|"$/, "", member)
        if (member ~ safe) print member "\texists\tEXISTS " prefix member
      }
    }' "$work/page" > "$work/plan"
    size=$(wc -l < "$work/plan")
    [ "$size" -gt 0 ] || break
    exchange_or_fail "$work/plan" "$work/exists" "checking the entries of $1"
    awk -F '\t' -v index_key="$1" '
      $4 == "0" { members = members " " $1; n++ }
      END { if (n) print "x\tgone\tZREM " index_key members }' "$work/exists" > "$work/plan"
    exchange_or_fail "$work/plan" "$work/zrem" "removing gone entries of $1"
    dropped=$(awk -F '\t' '$4 ~ /^[0-9]+$/ { n += $4 } END { print n + 0 }' "$work/zrem")
    gone=$((gone + dropped))
    # what was removed shifted the later ranks down
    start=$((start + BATCH_SIZE - dropped))
    [ "$(awk -F '\t' '{ print split($4, m, ",") }' "$work/page")" -ge "$BATCH_SIZE" ] || break
  done
}

# trim INDEX PREFIX: down to CACHE_MAX_ENTRIES_PER_SERVICE, least recently used first.
trim() {
  card "$1"
  while [ "$left" -gt "$CACHE_MAX_ENTRIES_PER_SERVICE" ]; do
    n=$((left - CACHE_MAX_ENTRIES_PER_SERVICE))
    [ "$n" -le "$BATCH_SIZE" ] || n=$BATCH_SIZE
    printf 'x\tmulti\tMULTI\nx\tlru\tZRANGE %s 0 %d WITHSCORES\nx\ttrim\tZREMRANGEBYRANK %s 0 %d\nx\tcard\tZCARD %s\nx\texec\tEXEC\n' \
      "$1" $((n - 1)) "$1" $((n - 1)) "$1" > "$work/plan"
    exchange_or_fail "$work/plan" "$work/trimmed" "trimming $1"
    # EXEC's reply, flattened: "member","score",... then the removed count, then ZCARD
    awk -F '\t' -v index_key="$1" -v prefix="$2" -v max="$CACHE_MAX_ENTRIES_PER_SERVICE" -v safe="$SAFE" '
      $2 == "exec" {
        n = split($4, f, ",")
        pairs = 0
        for (i = 1; i <= n; i++) {
          if (f[i] ~ /^".*"$/) { gsub(/^"|"$/, "", f[i]); v[++pairs] = f[i] }
          else if (f[i] ~ /^[0-9]+$/) last = f[i]
        }
        # the newest of the removed go back while the index is below the limit
        back = max - last
        for (i = pairs - 1; i >= 1; i -= 2) {
          member = v[i]
          if (member !~ safe) continue
          if (back > 0) { print "x\trestore\tZADD " index_key " NX " v[i + 1] " " member; back--; restored++ }
          else print "x\tunlink\tUNLINK " prefix member
        }
        print last, restored + 0 > "/dev/stderr"
      }' "$work/trimmed" > "$work/plan" 2> "$work/counts"
    read -r after back < "$work/counts"
    exchange_or_fail "$work/plan" "$work/unlinked" "deleting evicted entries of $1"
    batch_evicted=$(grep -c '	unlink	' "$work/plan" || true)
    evicted=$((evicted + batch_evicted))
    restored=$((restored + back))
    deleted=$((deleted + $(awk -F '\t' '$2 == "unlink" && $4 ~ /^[0-9]+$/ { n += $4 } END { print n + 0 }' "$work/unlinked")))
    [ "$batch_evicted" -gt 0 ] || break
    left=$((after + back))
  done
}

while read -r index <&3; do
  service=${index#cache:}
  service=${service%:index}
  services=$((services + 1))
  drop_gone "$index" "cache:$service:"
  trim "$index" "cache:$service:"
  removed=$((gone + evicted))
done 3< "$work/indexes"

removed=$((gone + evicted))
summary="services=$services gone=$gone evicted=$evicted restored=$restored keys_deleted=$deleted removed=$removed"
if [ "$errors" -gt 0 ]; then
  finish failed "$summary reason=\"error replies\""
  exit 1
fi
finish ok "$summary"
