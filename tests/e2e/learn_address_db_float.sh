#!/bin/bash
# learn_address_db_float.sh: a UDP client whose real address changes mid-session floats
# (OpenVPN keeps the session by its peer-id): ovp-learn-address-db records the address it
# ended at, and ovp-addrdb history --real-ip finds the session by that address too.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki alice
PLUGIN=$(e2e_so "$top_builddir/learn-address-db/.libs/ovp-learn-address-db.so")
TOOL="$top_builddir/learn-address-db/ovp-addrdb"
[ -f "$PLUGIN" ] || e2e_fail "plugin not built: $PLUGIN"
e2e_sanitized "$PLUGIN"
export ASAN_OPTIONS=detect_leaks=0
DB="$E2E_DIR/db/addresses.sqlite"
NEW_IP=192.0.2.3
install -d -o nobody -g nogroup -m 0750 "$E2E_DIR/db"

e2e_server_conf "plugin $PLUGIN database=$DB instance=e2e runasuser=nobody flushinterval=100ms"
e2e_start_server

# explicit-exit-notify: the server ends the session at once when the client stops, from
# the address the client has then.
e2e_client c1 alice "" "" "explicit-exit-notify 1"
e2e_wait_connect c1 20 || e2e_fail "client did not connect: $E2E_WHY"
ip netns exec "$E2E_CLI" ping -c 2 -i 0.2 -W 2 198.51.100.1 >/dev/null || e2e_fail "no ping"
grep -q "alice/$E2E_CLI_IP:[0-9]* MULTI_sva" "$E2E_DIR/server.log" \
    || e2e_log "note: no MULTI_sva line naming $E2E_CLI_IP (checked in the database below)"

# The client's network changes under it: a new address, the old one gone. The kernel
# picks the new source for the client's unbound UDP socket. Without promote_secondaries
# deleting the primary address would take the secondary with it.
ip netns exec "$E2E_CLI" sysctl -qw "net.ipv4.conf.${E2E_VETH}c.promote_secondaries=1" \
    || e2e_fail "cannot set promote_secondaries in the client namespace"
ip -n "$E2E_CLI" addr add "$NEW_IP/24" dev "${E2E_VETH}c" || e2e_fail "ip addr add $NEW_IP"
ip -n "$E2E_CLI" addr del "$E2E_CLI_IP/24" dev "${E2E_VETH}c" || e2e_fail "ip addr del $E2E_CLI_IP"
ip -n "$E2E_CLI" -4 addr show dev "${E2E_VETH}c" | grep -q "inet $NEW_IP/" \
    || e2e_fail "the client's veth lost its new address: $(ip -n "$E2E_CLI" -4 addr show dev "${E2E_VETH}c")"

# Traffic from the new address: the server accepts it by peer-id and floats the client.
ip netns exec "$E2E_CLI" ping -c 3 -i 0.3 -W 2 198.51.100.1 >/dev/null \
    || e2e_fail "no ping through the tunnel after the address change"
e2e_wait_log server.log "alice\) floated from $E2E_CLI_IP:[0-9]+ to \[AF_INET\]$NEW_IP:[0-9]+" 10 \
    || e2e_fail "the server log does not say alice floated to $NEW_IP"
e2e_log "ok: $(grep -o "peer [0-9]* (alice) floated.*" "$E2E_DIR/server.log" | head -n 1)"

# The session is still the one that started: nothing ended yet, same session.
sleep 0.5
[ "$(sqlite3 "$DB" "SELECT count(*) FROM session WHERE disconnect_ms IS NULL")" = 1 ] \
    || e2e_fail "expected one open session after the float: $(sqlite3 "$DB" 'SELECT * FROM session')"

e2e_stop c1
e2e_wait_log server.log "alice/$NEW_IP:[0-9]+ .*(SIGTERM|exit-notification|client-instance exiting)" 10 \
    || e2e_log "note: no exit line for alice in the server log (checked in the database below)"
t=50
until [ "$(sqlite3 "$DB" "SELECT count(*) FROM session WHERE disconnect_ms IS NOT NULL" 2>/dev/null)" = 1 ]; do
    t=$((t - 1))
    [ $t -gt 0 ] || e2e_fail "the session did not end within 5 s: $(sqlite3 "$DB" 'SELECT * FROM session')"
    sleep 0.1
done

# While the server still runs (its end is the client's, not a shutdown).
"$TOOL" --db "$DB" history --real-ip "$NEW_IP" > "$E2E_DIR/history.txt" 2> "$E2E_DIR/history.err" \
    || e2e_fail "history --real-ip $NEW_IP found nothing: $(cat "$E2E_DIR/history.txt" "$E2E_DIR/history.err")"
grep -q alice "$E2E_DIR/history.txt" || e2e_fail "history --real-ip $NEW_IP: $(cat "$E2E_DIR/history.txt")"
"$TOOL" --db "$DB" --json history --real-ip "$NEW_IP" > "$E2E_DIR/history.json" \
    || e2e_fail "history --json found nothing"
python3 - "$E2E_DIR/history.json" "$E2E_CLI_IP" "$NEW_IP" <<'PY' || e2e_fail "history JSON wrong: $(cat "$E2E_DIR/history.json")"
import json, sys
data, old, new = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
assert len(data) == 1, data
r = data[0]
assert r["common_name"] == "alice" and r["end_reason"] == "disconnect", r
assert r["real_ip"] == old and r["end_real_ip"] == new, r
assert isinstance(r["end_real_port"], int) and r["end_real_port"] > 0, r
assert r["bytes_received"] > 0 and r["bytes_sent"] > 0, r
PY
# The start address still finds the same session, once.
"$TOOL" --db "$DB" --csv history --real-ip "$E2E_CLI_IP" > "$E2E_DIR/history.csv" \
    || e2e_fail "history --real-ip $E2E_CLI_IP found nothing"
[ "$(grep -c alice "$E2E_DIR/history.csv")" = 1 ] || e2e_fail "history CSV: $(cat "$E2E_DIR/history.csv")"
head -n 1 "$E2E_DIR/history.csv" | grep -q "end_real_ip,end_real_port" \
    || e2e_fail "no end address columns in the CSV header: $(head -n 1 "$E2E_DIR/history.csv")"
e2e_stop server
sqlite3 "$DB" 'PRAGMA integrity_check' | grep -qx ok || e2e_fail "integrity check failed"
e2e_log "ok: the floated session is found by its start ($E2E_CLI_IP) and end ($NEW_IP) address"
