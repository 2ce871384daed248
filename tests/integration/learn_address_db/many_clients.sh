#!/bin/sh
# many_clients.sh: thousands of clients through ovp-refcore with ovp-learn-address-db:
# connecting (deferred auth), renegotiating, roaming (learn-address update) and
# disconnecting; then the database and ovp-addrdb who / current / history give exactly
# the sessions, addresses and owners the core handed out.
. "${srcdir:-.}/learn_address_db/lib.sh"

N=${OVP_LADB_CLIENTS:-2000}
DB="$WORK/addresses.sqlite"
X="$WORK/expected.sqlite"

# The story. Client I: certificate cn-I, user alice, real address 198.51.100.(I/8+1)
# port 20000+I. Every 2nd renegotiates, every 3rd roams to 203.0.113.(I%200+1) port
# 40000+I (a new session with the same name: OpenVPN drops the old one and learns the
# same addresses again, as 'update'). Then all move bytes and leave.
awk -v n="$N" 'BEGIN {
    print "timeout 60"
    for (i = 0; i < n; i++)
        printf "client c%d cn=cn-%04d user=alice pass=secret addr=198.51.100.%d:%d\n",
            i, i, int(i / 8) + 1, 20000 + i
    for (i = 0; i < n; i++) printf "expect c%d ok\n", i
    print "expect stat clients " n
    print "expect file ${T}/go1 go"
    for (i = 0; i < n; i += 2) printf "reneg c%d pass=secret\n", i
    for (i = 0; i < n; i += 2) printf "expect c%d reneg-ok\n", i
    print "expect stat renegotiated " int((n + 1) / 2)
    for (i = 0; i < n; i += 3) printf "roam c%d addr=203.0.113.%d:%d\n", i, i % 200 + 1, 40000 + i
    for (i = 0; i < n; i += 3) printf "expect c%d ok\n", i
    print "expect stat clients " n
    print "expect file ${T}/go2 go"
    for (i = 0; i < n; i++) printf "bytes c%d %d %d\nbye c%d\n", i, 1000 + i, 5000 + 2 * i, i
    print "expect stat clients 0"
    print "expect stat routes 0"
}' > "$WORK/many.story"

# What each client should have: one row per certificate name.
awk -v n="$N" 'BEGIN {
    print "CREATE TABLE expected(cn TEXT PRIMARY KEY, ip1 TEXT, port1 INT, roamed INT,"
    print " ip2 TEXT, port2 INT, rx INT, tx INT);"
    print "BEGIN;"
    for (i = 0; i < n; i++) {
        r = i % 3 == 0
        printf "INSERT INTO expected VALUES(\047cn-%04d\047, \047198.51.100.%d\047, %d, %d, %s, %s, %d, %d);\n",
            i, int(i / 8) + 1, 20000 + i, r,
            r ? sprintf("\047203.0.113.%d\047", i % 200 + 1) : "NULL",
            r ? 40000 + i : "NULL", 1000 + i, 5000 + 2 * i
    }
    print "COMMIT;"
}' | sqlite3 -batch -bail "$X" || die "cannot build the expected table"
R=$(sq "$X" 'SELECT count(*) FROM expected WHERE roamed')

start=$(now_ms)
start_core many --plugin "$TPLUG" mode=defer workers=2 \
    --plugin "$LADB" "database=$DB" instance=it flushinterval=50ms \
    -- --poll fast --verb 3 --tmp-dir "$WORK" --scenario "$WORK/many.story"

# Phase 1: every client connected and recorded (two addresses each, all current).
wait_sql 90 "$DB" "SELECT (SELECT count(*) FROM session) || ' ' ||
    (SELECT count(*) FROM current_address)" "$N $((2 * N))" ||
    die "phase 1: the database did not show $N sessions and $((2 * N)) addresses (last: $WAIT_GOT)"
T1=$(now_ms)
note "measured: $N clients connected (deferred auth) and recorded in $((T1 - start)) ms"
sleep 0.05
echo go > "$WORK/go1"

# Phase 2: renegotiations (no new session) and roams (a new session each, updates).
wait_sql 90 "$DB" "SELECT (SELECT count(*) FROM session) || ' ' ||
    (SELECT count(*) FROM address_event WHERE op = 'update') || ' ' ||
    (SELECT count(*) FROM session WHERE disconnect_ms IS NOT NULL)" \
    "$((N + R)) $((2 * R)) $R" ||
    die "phase 2: want $((N + R)) sessions, $((2 * R)) updates, $R ended (last: $WAIT_GOT)"
T2=$(now_ms)
note "measured: renegotiations and $R roams recorded in $((T2 - T1)) ms"
sleep 0.05
echo go > "$WORK/go2"

wait_core
end=$(now_ms)
core_ok many "the story" || finish
grep -h 'steps passed' "$WORK/many.out"
EVENTS=$(sq "$DB" "SELECT (SELECT count(*) FROM session) * 2 + (SELECT count(*) FROM address_event)")
note "measured: $EVENTS events (connects, disconnects, learn-address) over the whole story," \
    "the test's pauses included: $((end - start)) ms"
grep -q "closed: $EVENTS event(s) queued, 0 dropped" "$WORK/many.err" ||
    fail "the plugin's closing line does not say $EVENTS queued, 0 dropped: $(grep 'closed:' "$WORK/many.err")"

# The core's own account of who got which address (its log at verb 3).
{
    echo "CREATE TABLE addr(cn TEXT, v4 TEXT, v6 TEXT); BEGIN;"
    sed -n "s/^MULTI: primary virtual IP for \(cn-[0-9]*\): \([0-9.]*\)$/INSERT INTO addr VALUES('\1', '\2', NULL);/p" "$WORK/many.err"
    sed -n "s/^MULTI: primary virtual IPv6 for \(cn-[0-9]*\): \([0-9a-f:]*\)$/INSERT INTO addr VALUES('\1', NULL, '\2');/p" "$WORK/many.err"
    echo "COMMIT;"
    # one row per name: a roaming client gets its addresses back, so they must agree
    echo "CREATE TABLE owner AS SELECT cn, max(v4) v4, max(v6) v6,"
    echo " count(DISTINCT v4) n4, count(DISTINCT v6) n6 FROM addr GROUP BY cn;"
} | sqlite3 -batch -bail "$X" || die "cannot read the core's address log"
check "names with an address in the core's log" "$(sq "$X" 'SELECT count(*) FROM owner')" "$N"
check "names that got two different addresses" \
    "$(sq "$X" 'SELECT count(*) FROM owner WHERE n4 <> 1 OR n6 <> 1')" 0
check "addresses given to two names" \
    "$(sq "$X" 'SELECT count(*) - count(DISTINCT v4) FROM owner')" 0

# ------------------------------------------------ the database, row by row
Q() { sq "$DB" "ATTACH '$X' AS x; $1"; }
integrity "$DB"
check "sessions" "$(Q 'SELECT count(*) FROM session')" "$((N + R))"
check "sessions not ended by a disconnect" \
    "$(Q "SELECT count(*) FROM session WHERE disconnect_ms IS NULL
          OR end_reason IS NOT 'disconnect' OR instance <> 'it'")" 0
check "names without exactly 1 session (2 when roamed)" \
    "$(Q 'SELECT count(*) FROM x.expected e
          WHERE (SELECT count(*) FROM session s WHERE s.common_name = e.cn) <> 1 + e.roamed')" 0
check "first sessions not as connected (real address, user, addresses)" \
    "$(Q "SELECT count(*) FROM x.expected e JOIN x.owner o USING (cn) WHERE NOT EXISTS
          (SELECT 1 FROM session s WHERE s.common_name = e.cn AND s.real_ip = e.ip1
           AND s.real_port = e.port1 AND s.username = 'alice' AND s.vaddr4 = o.v4
           AND s.vaddr6 = o.v6)")" 0
check "roamed sessions not as connected" \
    "$(Q "SELECT count(*) FROM x.expected e JOIN x.owner o USING (cn) WHERE e.roamed AND
          NOT EXISTS (SELECT 1 FROM session s WHERE s.common_name = e.cn
           AND s.real_ip = e.ip2 AND s.real_port = e.port2 AND s.username = 'alice'
           AND s.vaddr4 = o.v4 AND s.vaddr6 = o.v6)")" 0
check "last sessions without their bytes" \
    "$(Q 'SELECT count(*) FROM x.expected e WHERE NOT EXISTS (SELECT 1 FROM session s
          WHERE s.common_name = e.cn AND s.real_port = coalesce(e.port2, e.port1)
          AND s.bytes_received = e.rx AND s.bytes_sent = e.tx)')" 0
check "roamed-away sessions that end after their successor starts" \
    "$(Q 'SELECT count(*) FROM x.expected e JOIN session a ON a.common_name = e.cn
          AND a.real_port = e.port1 JOIN session b ON b.common_name = e.cn
          AND b.real_port = e.port2 WHERE a.disconnect_ms > b.disconnect_ms
          OR a.disconnect_ms > (SELECT min(time_ms) FROM address_event
                                WHERE session_id = b.id)')" 0
check "address events by op" \
    "$(Q "SELECT group_concat(op || '=' || n, ' ') FROM (SELECT op, count(*) n
          FROM address_event GROUP BY op ORDER BY op)")" \
    "add=$((2 * N)) delete=$((2 * N)) update=$((2 * R))"
check "address events not of the address's owner (delete included)" \
    "$(Q 'SELECT count(*) FROM address_event ev JOIN x.owner o
          ON ev.address = o.v4 OR ev.address = o.v6 WHERE ev.common_name IS NOT o.cn')" 0
check "address events of an address the core never gave" \
    "$(Q 'SELECT count(*) FROM address_event ev WHERE NOT EXISTS (SELECT 1 FROM x.owner o
          WHERE ev.address = o.v4 OR ev.address = o.v6)')" 0
check "address events not linked to a session of their name" \
    "$(Q 'SELECT count(*) FROM address_event ev LEFT JOIN session s ON s.id = ev.session_id
          WHERE s.id IS NULL OR s.common_name IS NOT ev.common_name')" 0
check "adds not of the first session, updates and deletes not of the last" \
    "$(Q "SELECT count(*) FROM address_event ev JOIN session s ON s.id = ev.session_id
          JOIN x.expected e ON e.cn = s.common_name
          WHERE (ev.op = 'add' AND s.real_port <> e.port1)
             OR (ev.op <> 'add' AND s.real_port <> coalesce(e.port2, e.port1))")" 0
check "addresses whose history is not add[,update],delete" \
    "$(Q "SELECT count(*) FROM (SELECT address, group_concat(op) ops FROM
          (SELECT address, op FROM address_event ORDER BY id) GROUP BY address)
          WHERE ops NOT IN ('add,delete', 'add,update,delete')")" 0
check "adds after T1 or updates before it" \
    "$(Q "SELECT count(*) FROM address_event WHERE (op = 'add' AND time_ms >= $T1)
          OR (op <> 'add' AND time_ms <= $T1)")" 0
check "addresses still current" "$(Q 'SELECT count(*) FROM current_address')" 0
check "instance closed" "$(Q "SELECT count(*) FROM instance WHERE name = 'it' AND closed_ms IS NOT NULL")" 1

# ------------------------------------------------ ovp-addrdb answers
"$ADDRDB" --db "$DB" current > "$WORK/current.txt" 2> "$WORK/current.err"
check "current exit status after everyone left" $? 1
check "current output after everyone left" "$(cat "$WORK/current.txt")" ""
"$ADDRDB" --db "$DB" --json current > "$WORK/current.json" 2>/dev/null
check "current --json rows after everyone left" "$(jcount "$WORK/current.json")" 0

# history --user alice: every session of the run, oldest first, each as expected.
"$ADDRDB" --db "$DB" --json history --user alice > "$WORK/hist.json"
check "history --user alice exit status" $? 0
HJ="json_each(CAST(readfile('$WORK/hist.json') AS TEXT))"
check "history --user alice rows" "$(jcount "$WORK/hist.json")" "$((N + R))"
check "history --user alice rows that match no expected session" \
    "$(Q "SELECT count(*) FROM $HJ j WHERE NOT EXISTS (SELECT 1 FROM x.expected e
          JOIN x.owner o USING (cn) WHERE j.value->>'common_name' = e.cn
          AND j.value->>'username' = 'alice' AND j.value->>'vaddr4' = o.v4
          AND j.value->>'vaddr6' = o.v6 AND j.value->>'end_reason' = 'disconnect'
          AND ((j.value->>'real_ip' = e.ip1 AND j.value->>'real_port' = e.port1)
            OR (j.value->>'real_ip' = e.ip2 AND j.value->>'real_port' = e.port2)))")" 0
check "history --user alice distinct sessions" \
    "$(Q "SELECT count(DISTINCT j.value->>'session_id') FROM $HJ j")" "$((N + R))"
check "history --user alice not oldest first" \
    "$(Q "SELECT count(*) FROM (SELECT j.value->>'connected_unix' c,
          lag(j.value->>'connected_unix') OVER (ORDER BY j.key) p FROM $HJ j) WHERE c < p")" 0

# A sample of clients of every kind (plain, renegotiated, roamed, both), one by one.
i=0
samples=0
while [ "$i" -lt "$N" ]; do
    for k in $i $((i + 1)) $((i + 2)) $((i + 3)); do
        [ "$k" -lt "$N" ] || continue
        cn=$(printf 'cn-%04d' "$k")
        # shellcheck disable=SC2046 # six words, split on purpose
        set -- $(sq "$X" "SELECT o.v4 || ' ' || o.v6 || ' ' || e.port1 || ' ' ||
                 coalesce(e.port2, e.port1) || ' ' || e.roamed || ' ' || e.ip1
                 FROM expected e JOIN owner o USING (cn) WHERE cn = '$cn'")
        v4=$1 v6=$2 p1=$3 p2=$4 roamed=$5 ip1=$6
        samples=$((samples + 1))

        "$ADDRDB" --db "$DB" --json who "$v4" --at "$(at "$T1")" > "$WORK/w.json"
        check "who $v4 at T1: exit status" $? 0
        check "who $v4 at T1: rows" "$(jcount "$WORK/w.json")" 1
        check "who $v4 at T1: name, user, real address" \
            "$(js "$WORK/w.json" '$[0].common_name') $(js "$WORK/w.json" '$[0].username') $(js "$WORK/w.json" '$[0].real_ip'):$(js "$WORK/w.json" '$[0].real_port')" \
            "$cn alice $ip1:$p1"
        "$ADDRDB" --db "$DB" --json who "$v6" --at "$(at "$T1")" > "$WORK/w.json"
        check "who $v6 at T1" "$(jcount "$WORK/w.json") $(js "$WORK/w.json" '$[0].common_name')" "1 $cn"
        "$ADDRDB" --db "$DB" --json who "$v4" --at "$(at "$T2")" > "$WORK/w.json"
        check "who $v4 at T2: name and real port (roamed $roamed)" \
            "$(jcount "$WORK/w.json") $(js "$WORK/w.json" '$[0].common_name') $(js "$WORK/w.json" '$[0].real_port')" \
            "1 $cn $p2"
        "$ADDRDB" --db "$DB" who "$v4" > "$WORK/w.txt" 2>/dev/null
        check "who $v4 now (nobody): exit status" $? 1

        "$ADDRDB" --db "$DB" --json history --cn "$cn" > "$WORK/h.json"
        check "history --cn $cn: sessions, ports in order" \
            "$(jcount "$WORK/h.json") $(js "$WORK/h.json" '$[0].real_port') $(js "$WORK/h.json" '$[#-1].real_port')" \
            "$((1 + roamed)) $p1 $p2"
        check "history --cn $cn: bytes of the last session" \
            "$(js "$WORK/h.json" '$[#-1].bytes_received') $(js "$WORK/h.json" '$[#-1].bytes_sent')" \
            "$((1000 + k)) $((5000 + 2 * k))"
    done
    i=$((i + N / 8))
done

# history --real-ip: the 8 clients that came from one address, and the roamers of another.
"$ADDRDB" --db "$DB" --json history --real-ip 198.51.100.2 > "$WORK/r.json"
check "history --real-ip 198.51.100.2" \
    "$(Q "SELECT count(*) || ' ' || group_concat(c) FROM (SELECT v.value->>'common_name' c
          FROM json_each(CAST(readfile('$WORK/r.json') AS TEXT)) v ORDER BY c)")" \
    "$(Q "SELECT count(*) || ' ' || group_concat(cn) FROM (SELECT cn FROM x.expected
          WHERE ip1 = '198.51.100.2' ORDER BY cn)")"
"$ADDRDB" --db "$DB" --json history --real-ip 203.0.113.1 > "$WORK/r.json"
check "history --real-ip 203.0.113.1 (roamers)" \
    "$(Q "SELECT count(*) FROM json_each(CAST(readfile('$WORK/r.json') AS TEXT)) v
          JOIN x.expected e ON e.cn = v.value->>'common_name' AND e.ip2 = '203.0.113.1'
          AND e.port2 = v.value->>'real_port'")" \
    "$(Q "SELECT count(*) FROM x.expected WHERE ip2 = '203.0.113.1'")"
note "checked $samples clients one by one with ovp-addrdb who/history"
finish
