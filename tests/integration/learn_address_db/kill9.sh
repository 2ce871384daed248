#!/bin/sh
# kill9.sh: ovp-refcore killed with SIGKILL in the middle of a load while
# ovp-learn-address-db writes: the database passes PRAGMA integrity_check, holds every
# row a reader saw committed before the kill, and the next start ends the dead run's
# sessions and releases its addresses with the reason 'restart'.
. "${srcdir:-.}/learn_address_db/lib.sh"

N1=${OVP_LADB_CLIENTS:-1000}
N2=$((N1 * 6))
DB="$WORK/addresses.sqlite"
mkdir -p "$WORK/auth"
PLUGINS="--plugin $TPLUG mode=defer --plugin $LADB database=$DB instance=k9 flushinterval=100ms"

# 1. A clean load: every session recorded and ended.
start=$(now_ms)
# shellcheck disable=SC2086
start_core load1 $PLUGINS -- --poll fast --quiet --tmp-dir "$WORK/auth" \
    --clients "$N1" --username alice --password secret --bytes 100 200
wait_core
end=$(now_ms)
core_ok load1 "a clean load of $N1 clients" || finish
EV1=$(sq "$DB" "SELECT (SELECT count(*) FROM session) * 2 + (SELECT count(*) FROM address_event)")
note "measured: $N1 clients through the core, $EV1 events recorded, in $((end - start)) ms" \
    "($((EV1 * 1000 / (end - start))) events/s, bounded by the core under the sanitizers)"
check "sessions after the clean load" \
    "$(sq "$DB" "SELECT count(*) || ' ' || count(disconnect_ms) || ' ' ||
                 sum(end_reason = 'disconnect') FROM session")" "$N1 $N1 $N1"

# 2. A bigger load, killed once a reader sees a good part of it committed.
# shellcheck disable=SC2086
start_core load2 $PLUGINS -- --poll fast --quiet --tmp-dir "$WORK/auth" \
    --clients "$N2" --username alice --password secret --bytes 100 200 --timeout 120
HOST=$CORE_PID
deadline=$(($(date +%s) + 60))
while :; do
    got=$(sq "$DB" 'SELECT count(*) FROM session' 2>/dev/null)
    [ "${got:-0}" -ge $((N1 + N2 / 5)) ] && break
    if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$HOST" 2>/dev/null; then
        die "the second load did not get going (sessions: ${got:-none})"
    fi
    sleep 0.05
done
# What a reader sees committed now must survive the kill.
sq "$DB" 'SELECT id FROM session ORDER BY id' > "$WORK/seen_sessions"
sq "$DB" 'SELECT id FROM address_event ORDER BY id' > "$WORK/seen_events"
SEEN_S=$(wc -l < "$WORK/seen_sessions")
SEEN_E=$(wc -l < "$WORK/seen_events")
# the load's client driver is a child of the core: it goes too, by its pid
DRIVERS=""
for f in /proc/[0-9]*/stat; do
    line=$(cat "$f" 2>/dev/null) || continue
    # shellcheck disable=SC2086
    set -- ${line##*) }
    [ "${2:-}" = "$HOST" ] && DRIVERS="$DRIVERS ${f#/proc/}"
done
DRIVERS=$(echo "$DRIVERS" | sed 's|/stat||g')
kill -9 "$HOST"
wait "$HOST" 2>/dev/null
CORE_PID=""
for p in $DRIVERS; do
    kill -9 "$p" 2>/dev/null
done
note "killed the core (pid $HOST) after a reader saw $SEEN_S sessions and $SEEN_E address events"

integrity "$DB"
# missing SEEN_FILE TABLE: how many ids of SEEN_FILE are not in TABLE.
missing() {
    printf '%s\n' "CREATE TEMP TABLE seen(id INTEGER PRIMARY KEY);" ".import $1 seen" \
        "SELECT count(*) FROM seen WHERE id NOT IN (SELECT id FROM $2);" |
        sqlite3 -batch -bail -cmd '.timeout 5000' "$DB"
}
check "sessions seen before the kill and missing after it" \
    "$(missing "$WORK/seen_sessions" session)" 0
check "address events seen before the kill and missing after it" \
    "$(missing "$WORK/seen_events" address_event)" 0
OPEN=$(sq "$DB" "SELECT count(*) FROM session WHERE disconnect_ms IS NULL")
HELD=$(sq "$DB" "SELECT count(*) FROM current_address WHERE instance = 'k9'")
LAST=$(sq "$DB" "SELECT last_seen_ms FROM instance WHERE name = 'k9' AND closed_ms IS NULL")
[ "$OPEN" -gt 0 ] || fail "no session was open at the kill (the load was over?)"
[ "$HELD" -gt 0 ] || fail "no address was held at the kill"
[ -n "$LAST" ] || fail "the killed run is not registered as running"
"$ADDRDB" --db "$DB" --json current > "$WORK/current.json"
check "current after the kill: exit status" $? 0
check "current after the kill: the open sessions" "$(jcount "$WORK/current.json")" "$OPEN"
# ...each flagged: the server that holds them is dead (its end comes at the next start).
check "current after the kill: rows flagged instance_state dead" \
    "$(sqlite3 -batch :memory: "SELECT count(*) FROM json_each(CAST(readfile('$WORK/current.json') AS TEXT))
                                WHERE json_extract(value, '\$.instance_state') = 'dead'")" "$OPEN"
note "after the kill: $OPEN sessions open, $HELD addresses held, all seen rows present"

# 3. The next start cleans up after the dead run, then works as usual.
cat > "$WORK/after.story" <<'STORY'
# The writer's lines reach OpenVPN's log at the plugin's next call (the host's log is
# not thread-safe), so the client comes once the clean-up is committed.
expect file ${T}/go go
client a user=alice pass=secret addr=192.0.2.10:4000
expect a ok
bye a
expect stat clients 0
expect stat routes 0
expect log "the previous run of instance 'k9' stopped without closing: ended ${OPEN} session(s) and released ${HELD} address(es)"
STORY
export OPEN HELD
RESTART=$(now_ms)
# shellcheck disable=SC2086
start_core after $PLUGINS -- --poll fast --tmp-dir "$WORK/auth" --scenario "$WORK/after.story"
wait_sql 30 "$DB" "SELECT count(*) FROM session WHERE end_reason = 'restart'" "$OPEN" ||
    fail "the next start did not end the $OPEN open sessions (last: $WAIT_GOT)"
echo go > "$WORK/go"
wait_core
core_ok after "the start after the kill" || finish
integrity "$DB"
check "sessions ended as 'restart'" \
    "$(sq "$DB" "SELECT count(*) FROM session WHERE end_reason = 'restart'")" "$OPEN"
check "'restart' sessions not ended at the dead run's last sign of life" \
    "$(sq "$DB" "SELECT count(*) FROM session WHERE end_reason = 'restart'
                 AND disconnect_ms <> max($LAST, connect_ms)")" 0
# The end is the interval from the last sign of life to the next start.
check "'restart' sessions without an end interval reaching the next start" \
    "$(sq "$DB" "SELECT count(*) FROM session WHERE end_reason = 'restart'
                 AND (disconnect_latest_ms IS NULL OR disconnect_latest_ms < $RESTART)")" 0
check "addresses released with a 'reset' event" \
    "$(sq "$DB" "SELECT count(*) FROM address_event WHERE op = 'reset'")" "$HELD"
check "sessions still open" "$(sq "$DB" "SELECT count(*) FROM session WHERE disconnect_ms IS NULL")" 0
check "addresses still held" "$(sq "$DB" "SELECT count(*) FROM current_address")" 0
check "the new run's session" \
    "$(sq "$DB" "SELECT end_reason FROM session WHERE real_ip = '192.0.2.10'")" disconnect
"$ADDRDB" --db "$DB" current > /dev/null 2>&1
check "current after the restart: exit status (nobody)" $? 1
finish
