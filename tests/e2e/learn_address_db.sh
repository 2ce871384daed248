#!/bin/bash
# learn_address_db.sh: ovp-learn-address-db in a real OpenVPN server (user nobody): connect,
# addresses, a reconnect, traffic bytes and disconnect land in SQLite, and ovp-addrdb reads
# them back (who / current / history). A client that a client-connect script refuses after
# the plugin's client-connect is recorded as refused, without the address it never got.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki alice bob
PLUGIN=$(e2e_so "$top_builddir/learn-address-db/.libs/ovp-learn-address-db.so")
TOOL="$top_builddir/learn-address-db/ovp-addrdb"
[ -f "$PLUGIN" ] || e2e_fail "plugin not built: $PLUGIN"
e2e_sanitized "$PLUGIN"
export ASAN_OPTIONS=detect_leaks=0
DB="$E2E_DIR/db/addresses.sqlite"
install -d -o nobody -g nogroup -m 0750 "$E2E_DIR/db"

# The script runs after the plugin (OpenVPN runs v2 plugins before the script) and
# refuses bob; OpenVPN then sends the plugin bob's CLIENT_DISCONNECT.
cat > "$E2E_DIR/cc.sh" <<'SH'
#!/bin/sh
[ "$common_name" != bob ]
SH
chmod 755 "$E2E_DIR/cc.sh"
e2e_server_conf "script-security 2
client-connect $E2E_DIR/cc.sh
plugin $PLUGIN database=$DB instance=e2e runasuser=nobody flushinterval=100ms"
e2e_start_server

e2e_client c1 alice "" ""
e2e_wait_log c1.log "Initialization Sequence Completed" 20 || e2e_fail "client did not connect"
ip netns exec "$E2E_CLI" ping -c 3 -i 0.2 -W 2 198.51.100.1 >/dev/null || e2e_fail "no ping"
sleep 0.5
"$TOOL" --db "$DB" current > "$E2E_DIR/current.txt" || e2e_fail "ovp-addrdb current failed: $(cat "$E2E_DIR/current.txt")"
grep -q "alice" "$E2E_DIR/current.txt" || e2e_fail "alice not current: $(cat "$E2E_DIR/current.txt")"
grep -q "198.51.100.2" "$E2E_DIR/current.txt" || e2e_fail "no virtual address in current"
"$TOOL" --db "$DB" who 198.51.100.2 > "$E2E_DIR/who.txt" || e2e_fail "who 198.51.100.2 found nothing"
grep -q "alice" "$E2E_DIR/who.txt" || e2e_fail "who does not name alice: $(cat "$E2E_DIR/who.txt")"
"$TOOL" --db "$DB" who 2001:db8:100::1000 | grep -q alice || e2e_fail "IPv6 address not recorded"
e2e_log "ok: connect recorded, who/current answer"

# A reconnect with the same certificate: the old instance goes, the address is learned again.
e2e_stop c1
sleep 1
e2e_client c2 alice "" ""
e2e_wait_log c2.log "Initialization Sequence Completed" 20 || e2e_fail "reconnect failed"
ip netns exec "$E2E_CLI" ping -c 2 -i 0.2 -W 2 198.51.100.1 >/dev/null || e2e_fail "no ping"
e2e_stop c2
e2e_client c3 bob "" ""
e2e_wait_log server.log "bob/.*client-connect.*(failed|exit)|MULTI.*bob.*rejected|bob.*SENT CONTROL.*AUTH_FAILED" 20 \
    || e2e_log "no refusal line for bob in the server log (checked in the database below)"
sleep 1
e2e_stop c3
e2e_stop server
"$TOOL" --db "$DB" --csv history --cn alice > "$E2E_DIR/history.csv" \
    || e2e_fail "history found nothing"
[ "$(grep -c alice "$E2E_DIR/history.csv")" -ge 2 ] || e2e_fail "expected 2 sessions: $(cat "$E2E_DIR/history.csv")"
# Every session ended, with bytes counted and the real address recorded.
bob=$(sqlite3 "$DB" "SELECT count(*) || ' ' || coalesce(end_reason, '-') || ' ' || coalesce(vaddr4, '-') FROM session WHERE common_name = 'bob'")
[ "$bob" = "1 refused -" ] || e2e_fail "bob, refused by the client-connect script: '$bob' (want '1 refused -')"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM address_event WHERE common_name = 'bob'")" = 0 ] \
    || e2e_fail "bob, refused, has address events"
"$TOOL" --db "$DB" --json history --cn alice > "$E2E_DIR/history.json"
python3 - "$E2E_DIR/history.json" <<'PY' || e2e_fail "history JSON wrong: $(cat "$E2E_DIR/history.json")"
import json, sys
data = json.load(open(sys.argv[1]))
assert len(data) == 2, data
for r in data:
    assert r["common_name"] == "alice" and r["real_ip"] == "192.0.2.2", r
    assert r["vaddr4"] == "198.51.100.2" and r["vaddr6"] == "2001:db8:100::1000", r
    assert r["disconnected"] and r["end_reason"] == "disconnect", r
    assert r["bytes_received"] > 0 and r["bytes_sent"] > 0, r
PY
sqlite3 "$DB" 'PRAGMA integrity_check' | grep -qx ok || e2e_fail "integrity check failed"
# The reconnect took the address over (learn-address update); the final delete, which
# OpenVPN sends with an empty env, is attributed to alice from the address's owner.
ops=$(sqlite3 "$DB" "SELECT op || ' ' || address || ' ' || common_name FROM address_event WHERE kind = 'ipv4' ORDER BY id" | tr '\n' ',')
[ "$ops" = "add 198.51.100.2 alice,update 198.51.100.2 alice,delete 198.51.100.2 alice," ] \
    || e2e_fail "address events: $ops"
e2e_log "ok: reconnect, disconnect with bytes, history readable"
