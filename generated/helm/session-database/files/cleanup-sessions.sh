#!/bin/sh
# cleanup-sessions.sh: the session database's cleanup (chart README, Data contract). For every
# per-user index (user:<uid>:sessions, user:<uid>:refresh; sorted sets scored by expiry in unix
# milliseconds), in batches of BATCH_SIZE indexes:
#   1. drops entries whose expiry has passed (ZREMRANGEBYSCORE up to the master's clock);
#   2. drops entries whose key (session:<sid>, refresh:<token>) is gone: one EXISTS of all the
#      index's keys, one per key only where some are gone, then ZREM; ids are never reused, so
#      a gone key never comes back;
#   3. enforces MAX_SESSIONS_PER_USER / MAX_REFRESH_TOKENS_PER_USER, oldest (earliest expiry)
#      first: one MULTI reads and removes the ranks below the newest <limit> entries, so the
#      choice and the removal are one atomic step against the index as it is then (a session
#      renewed meanwhile has a later score and stays); then it UNLINKs the removed entries' keys.
# Each step is idempotent; a run that fails part-way leaves the index consistent and the next
# run finishes the work. Commands are short (a few keys each); no KEYS, no scripts.
set -u
JOB=session-cleanup
RESULTS=sessions  # cleanup:result:sessions:* (the monitoring's key checks)
# shellcheck source=maintenance.sh
. "$(dirname "$0")/maintenance.sh"
# Entries examined per index and run: a contract-abiding index holds about its limit.
MEMBERS_PER_INDEX=${MEMBERS_PER_INDEX:-1000}

find_master
now=$(server_time_ms)
case "$now" in ''|*[!0-9]*) fail "no answer to TIME from $target" ;; esac
scan_keys 'user:*' "$work/indexes"

indexes=0 expired=0 gone=0 over=0 deleted=0
# The plans' first tab field: index key, then key prefix of its members and its limit.
# batches of BATCH_SIZE indexes, one file each (awk: BusyBox builds need not have split)
awk -v n="$BATCH_SIZE" -v dir="$work" '{
  file = sprintf("%s/batch.%07d", dir, int((NR - 1) / n))
  if (file != last) { if (last != "") close(last); last = file }
  print > file
}' "$work/indexes"
for batch in "$work"/batch.*; do
  [ -f "$batch" ] || continue
  # 1. expired entries out, then up to MEMBERS_PER_INDEX of what is left
  awk -v now="$now" -v k="$MEMBERS_PER_INDEX" \
    -v sessions="$MAX_SESSIONS_PER_USER" -v refresh="$MAX_REFRESH_TOKENS_PER_USER" '
    /:sessions$/ { tag = $0 " session: " sessions }
    /:refresh$/ { tag = $0 " refresh: " refresh }
    /:(sessions|refresh)$/ {
      print tag "\texpired\tZREMRANGEBYSCORE " $0 " -inf (" now
      print tag "\tmembers\tZRANGE " $0 " 0 " (k - 1)
    }' "$batch" > "$work/plan"
  exchange_or_fail "$work/plan" "$work/read" "reading the indexes"
  # 2. are all of an index's keys there? one EXISTS of all of them (the usual answer: yes)
  awk -F '\t' -v safe="$SAFE" '
    $2 == "expired" && $4 ~ /^[0-9]+$/ { expired += $4 }
    $2 == "members" {
      indexes++
      split($1, t, " ")
      n = split($4, m, ",")
      members = keys = ""
      for (i = 1; i <= n; i++) {
        member = m[i]
        if (member !~ /^".*"$/) continue
        gsub(/^"|"$/, "", member)
        if (member !~ safe) continue
        members = members " " member
        keys = keys " " t[2] member
      }
      if (keys != "") print $1 "\t" substr(members, 2) "\tEXISTS" keys
    }
    END { print indexes + 0, expired + 0 > "/dev/stderr" }' "$work/read" > "$work/plan" 2> "$work/counts"
  read -r batch_indexes batch_expired < "$work/counts"
  indexes=$((indexes + batch_indexes))
  expired=$((expired + batch_expired))
  exchange_or_fail "$work/plan" "$work/counted" "counting the keys"
  # where some are gone: one EXISTS per key (the reply tells which)
  awk -F '\t' '{
    n = split($2, m, " ")
    if ($4 == n) { print $1 "\t" n > "/dev/stderr"; next }
    split($1, t, " ")
    for (i = 1; i <= n; i++) print $1 "\t" m[i] "\tEXISTS " t[2] m[i]
  }' "$work/counted" > "$work/plan" 2> "$work/complete"
  exchange_or_fail "$work/plan" "$work/exists" "checking the keys"
  # 3. gone members out of their index; the live ones counted against the limit
  awk -F '\t' '
    FILENAME ~ /complete$/ { live[$1] += $2; next }
    $4 == "0" { split($1, t, " "); print $1 "\tgone\tZREM " t[1] " " $2 }
    $4 == "1" { live[$1]++ }
    END {
      for (tag in live) {
        split(tag, t, " ")
        if (live[tag] > t[3]) {
          print tag "\tmulti\tMULTI"
          print tag "\tover\tZRANGE " t[1] " 0 " (-t[3] - 1)
          print tag "\ttrim\tZREMRANGEBYRANK " t[1] " 0 " (-t[3] - 1)
          print tag "\texec\tEXEC"
        }
      }
    }' "$work/complete" "$work/exists" > "$work/plan"
  exchange_or_fail "$work/plan" "$work/trimmed" "removing gone and surplus entries"
  # 4. the keys of the entries the transactions removed from their index
  awk -F '\t' -v safe="$SAFE" '
    $2 == "gone" && $4 ~ /^[0-9]+$/ { gone += $4 }
    $2 == "exec" {
      split($1, t, " ")
      n = split($4, m, ",")
      for (i = 1; i <= n; i++) {
        member = m[i]
        if (member !~ /^".*"$/) continue
        gsub(/^"|"$/, "", member)
        if (member ~ safe) { over++; print $1 "\tunlink\tUNLINK " t[2] member }
      }
    }
    END { print gone + 0, over + 0 > "/dev/stderr" }' "$work/trimmed" > "$work/plan" 2> "$work/counts"
  read -r batch_gone batch_over < "$work/counts"
  gone=$((gone + batch_gone))
  over=$((over + batch_over))
  exchange_or_fail "$work/plan" "$work/unlinked" "deleting surplus sessions"
  deleted=$((deleted + $(awk -F '\t' '$4 ~ /^[0-9]+$/ { n += $4 } END { print n + 0 }' "$work/unlinked")))
  removed=$((expired + gone + over))
done

removed=$((expired + gone + over))
summary="indexes=$indexes expired=$expired gone=$gone over_limit=$over keys_deleted=$deleted removed=$removed"
if [ "$errors" -gt 0 ]; then
  finish failed "$summary reason=\"error replies\""
  exit 1
fi
finish ok "$summary"
