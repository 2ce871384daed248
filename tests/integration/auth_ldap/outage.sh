#!/bin/sh
# outage.sh: the directory stopped mid-run gives TEMP (never a plain failure), the
# circuit breaker then answers TEMP at once, a restarted server is used again; two
# servers fail over. The core runs in the background while the test stops and starts
# slapd; the story waits for go files between the phases. A hung server (SIGSTOP) costs
# one client TEMP after Timeout; the next one goes to the other server.
. "${srcdir:-.}/auth_ldap/lib.sh"

start_slapd a
A_DIR="$WORK/a"
A_URL=$SLAPD_URL
A_PORT=$SLAPD_PORT
A_LDAPS=$SLAPD_LDAPS_PORT

# wait_for FILE TEXT: until FILE has TEXT (10 s at most).
wait_for() {
    for _ in $(seq 200); do
        grep -q -F -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "timed out waiting for \"$2\" in $1"
    return 1
}

# --- one server, stopped and started again under a running core
conf "$WORK/one.conf" "$A_URL"
cat > "$WORK/one.story" <<EOS
timeout 15
client a user=alice pass=Alice-Pass-1
expect a ok
expect file $WORK/go1 go
client b user=alice pass=Alice-Pass-1 cn=b
expect b fail-contains TEMP
client c user=alice pass=Alice-Pass-1 cn=c
expect c fail-contains TEMP
expect file $WORK/go2 go
wait 1500ms
client d user=alice pass=Alice-Pass-1 cn=d
expect d ok
client e user=alice pass=Wrong-Pass-1 cn=e
expect e fail "authentication failed"
EOS
"$REFCORE" --plugin "$PLUGIN" "$WORK/one.conf" -- --verb 11 --poll fast \
    --scenario "$WORK/one.story" > "$WORK/one.out" 2>&1 &
core=$!
wait_for "$WORK/one.out" "MULTI: primary virtual IP for alice"
slapd_stop "$A_DIR"
echo go > "$WORK/go1"
wait_for "$WORK/one.out" "SENT CONTROL [c]: 'AUTH_FAILED"
SLAPD_URL=$A_URL SLAPD_LDAPS_PORT=$A_LDAPS slapd_restart "$A_DIR" || fail "slapd did not restart"
echo go > "$WORK/go2"
wait $core || { fail "story one (exit $?)"; tail -n 30 "$WORK/one.out" | sed 's/^/    /'; }
grep -q "SENT CONTROL \[c\]: 'AUTH_FAILED,TEMP: the directory is unreachable" "$WORK/one.out" \
    || fail "the circuit breaker did not answer client c at once"
grep -q 'every LDAP server is down' "$WORK/one.out" || fail "no line about every server down"
# c was answered in the call (circuit breaker), not deferred.
grep -q "authentication deferred for username 'alice'.*" "$WORK/one.out" || true
c_deferred=$(grep -c "PLUGIN_AUTH_USER_PASS_VERIFY status=2" "$WORK/one.out")
[ "$c_deferred" -eq 4 ] || fail "expected 4 deferred calls (a b d e), saw $c_deferred"

# --- two servers: the first one stopped, clients go to the second
SLAPD_URL=$A_URL SLAPD_LDAPS_PORT=$A_LDAPS slapd_restart "$A_DIR" 2>/dev/null
start_slapd b
B_URL=$SLAPD_URL
conf "$WORK/two.conf" "$A_URL $B_URL"
cat > "$WORK/two.story" <<EOS
timeout 15
client a user=alice pass=Alice-Pass-1
expect a ok
expect file $WORK/go3 go
client b user=bob pass=Bob-Pass-2 cn=b
expect b ok
client c user=bob pass=Wrong-Pass-2 cn=c
expect c fail "authentication failed"
EOS
"$REFCORE" --plugin "$PLUGIN" "$WORK/two.conf" -- --verb 11 --poll fast \
    --scenario "$WORK/two.story" > "$WORK/two.out" 2>&1 &
core=$!
wait_for "$WORK/two.out" "MULTI: primary virtual IP for alice"
slapd_stop "$A_DIR"
echo go > "$WORK/go3"
wait $core || { fail "story two (exit $?)"; tail -n 30 "$WORK/two.out" | sed 's/^/    /'; }
grep -q "LDAP server $A_URL: cannot connect" "$WORK/two.out" || fail "no line about the first server"
grep -q "LDAP server $B_URL: connected" "$WORK/two.out" || fail "no failover line"

# --- a server that hangs (SIGSTOP: connected, never answering): the operation's Timeout
# (2 s) gives that client TEMP, the server is skipped, the next client goes to the other.
SLAPD_URL=$A_URL SLAPD_LDAPS_PORT=$A_LDAPS slapd_restart "$A_DIR" || fail "slapd a did not restart"
A_PID=$(cat "$A_DIR/slapd.pid")
cat > "$WORK/hang.story" <<EOS
timeout 15
client a user=alice pass=Alice-Pass-1
expect a ok
expect file $WORK/go4 go
client b user=bob pass=Bob-Pass-2 cn=b
expect b fail-contains TEMP
client c user=bob pass=Bob-Pass-2 cn=c
expect c ok
EOS
"$REFCORE" --plugin "$PLUGIN" "$WORK/two.conf" -- --verb 11 --poll fast \
    --scenario "$WORK/hang.story" > "$WORK/hang.out" 2>&1 &
core=$!
wait_for "$WORK/hang.out" "MULTI: primary virtual IP for alice"
kill -STOP "$A_PID"
t0=$(date +%s%N)
echo go > "$WORK/go4"
wait_for "$WORK/hang.out" "SENT CONTROL [b]: 'AUTH_FAILED"
b_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait $core || { fail "story hang (exit $?)"; tail -n 30 "$WORK/hang.out" | sed 's/^/    /'; }
kill -CONT "$A_PID"
[ "$b_ms" -ge 1500 ] && [ "$b_ms" -le 6000 ] \
    || fail "the hung server's client was answered after $b_ms ms (Timeout is 2 s)"
grep -q "LDAP server $A_URL: no answer within 2 s" "$WORK/hang.out" \
    || fail "no line about the hung server"
echo "hung server: TEMP after $b_ms ms, the next client went to the other server"

no_secrets "$WORK/one.out" Alice-Pass-1 Svc-Pass-9 Wrong-Pass-1
no_secrets "$WORK/two.out" Bob-Pass-2 Svc-Pass-9
finish
