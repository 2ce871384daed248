#!/bin/sh
# locked.sh: another process (sqlite3) holds the database's write lock for a few seconds
# while clients come through ovp-refcore: the plugin says so clearly, the VPN keeps
# working, nothing is lost, and every row lands once the lock is released.
. "${srcdir:-.}/learn_address_db/lib.sh"

DB="$WORK/addresses.sqlite"
mkfifo "$WORK/lockctl" || die "mkfifo"

# OpenVPN's log is not thread-safe: the writer's lines are shown at the plugin's next
# call, so the story brings a client now and then ("pokes") while it waits for them.
cat > "$WORK/locked.story" <<'STORY'
timeout 30
client a1 cn=before-1 user=alice pass=secret addr=198.51.100.1:1001
client a2 cn=before-2 user=alice pass=secret addr=198.51.100.1:1002
expect a1 ok
expect a2 ok
expect file ${T}/locked go
client b1 cn=during-1 user=alice pass=secret addr=198.51.100.2:2001
client b2 cn=during-2 user=alice pass=secret addr=198.51.100.2:2002
client b3 cn=during-3 user=alice pass=secret addr=198.51.100.2:2003
expect b1 ok
expect b2 ok
expect b3 ok
bye b3
expect b3 closed
wait 1s
client p1 cn=poke-1 user=alice pass=secret
expect p1 ok
wait 1s
client p2 cn=poke-2 user=alice pass=secret
expect p2 ok
wait 1s
client p3 cn=poke-3 user=alice pass=secret
expect p3 ok
expect log "another process holds a lock on the database"
expect file ${T}/landed go
client c1 cn=after-1 user=alice pass=secret addr=198.51.100.3:3001
expect c1 ok
expect log "is writable again"
bye a1
bye a2
bye b1
bye b2
bye p1
bye p2
bye p3
bye c1
expect stat clients 0
expect stat routes 0
STORY

start_core locked --plugin "$TPLUG" mode=defer --plugin "$LADB" "database=$DB" \
    instance=lk busytimeout=200ms -- --poll fast --tmp-dir "$WORK" --scenario "$WORK/locked.story"
wait_sql 30 "$DB" "SELECT count(*) FROM session" 2 || die "the first clients were not recorded"

# Take the write lock (BEGIN IMMEDIATE) in another process and keep it.
sqlite3 -batch "$DB" < "$WORK/lockctl" > "$WORK/locker.out" 2>&1 &
EXTRA_PIDS=$!
exec 3> "$WORK/lockctl"
printf '%s\n' "BEGIN IMMEDIATE;" ".system touch $WORK/have-lock" >&3
deadline=$(($(date +%s) + 10))
until [ -e "$WORK/have-lock" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "sqlite3 did not take the lock: $(cat "$WORK/locker.out")"
    sleep 0.05
done
echo go > "$WORK/locked"

wait_log 30 "$WORK/locked.err" "another process holds a lock on the database" ||
    die "no log line about the lock"
grep -h "holds a lock" "$WORK/locked.err" | head -n 1 | sed 's/^/logged: /'
# The VPN went on (the story checks the clients got PUSH_REPLY); nothing was written.
check "sessions while locked" "$(sq "$DB" 'SELECT count(*) FROM session')" 2

echo "ROLLBACK;" >&3
exec 3>&-
wait "$EXTRA_PIDS"
EXTRA_PIDS=""
# Everything kept in memory lands: 2 + 3 + 3 sessions, b3 already ended.
wait_sql 30 "$DB" "SELECT count(*) || ' ' || count(disconnect_ms) FROM session" "8 1" ||
    fail "the kept events did not land after the lock was released (last: $WAIT_GOT)"
echo go > "$WORK/landed"
wait_core
core_ok locked "the story" || finish

integrity "$DB"
check "sessions, all ended by a disconnect" \
    "$(sq "$DB" "SELECT count(*) || ' ' || sum(end_reason = 'disconnect') FROM session")" "9 9"
check "address events" "$(sq "$DB" "SELECT group_concat(op || '=' || n, ' ') FROM
    (SELECT op, count(*) n FROM address_event GROUP BY op ORDER BY op)")" "add=18 delete=18"
check "events written in order (a during-client's add before its delete)" \
    "$(sq "$DB" "SELECT count(*) FROM address_event a JOIN address_event d
                 ON a.address = d.address AND a.op = 'add' AND d.op = 'delete'
                 WHERE a.id > d.id OR a.time_ms > d.time_ms")" 0
grep -q "are lost" "$WORK/locked.err" && fail "the plugin lost events: $(grep 'are lost' "$WORK/locked.err")"
grep -q "closed: 54 event(s) queued, 0 dropped" "$WORK/locked.err" ||
    fail "closing line: $(grep 'closed:' "$WORK/locked.err")"
"$ADDRDB" --db "$DB" --json history --cn during-2 > "$WORK/h.json"
check "history --cn during-2 (connected while locked)" \
    "$(jcount "$WORK/h.json") $(js "$WORK/h.json" '$[0].real_port') $(js "$WORK/h.json" '$[0].end_reason')" \
    "1 2002 disconnect"
finish
