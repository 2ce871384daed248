#!/bin/sh
# faults.sh: a directory that answers wrongly. Between ovp-auth-ldap and slapd sits
# delay_proxy.py with a fault file: first it answers the bind with 4 KiB of garbage, then
# with a 10 MiB BER message, then it closes every connection at once. Each time the
# client gets TEMP (the backend is at fault) within Timeout, and the log has a line with
# the client's name; the core keeps running. Once the proxy forwards again, the next
# clients are answered (right password allowed, wrong refused) without a restart.
. "${srcdir:-.}/auth_ldap/lib.sh"

start_slapd main
PF=$WORK/proxy.port
FAULT=$WORK/fault
echo garbage > "$FAULT"
python3 "$srcdir/../fixtures/delay_proxy.py" --target "127.0.0.1:$SLAPD_PORT" \
    --fault-file "$FAULT" --port-file "$PF" > "$WORK/proxy.out" 2>&1 &
proxy=$!
for _ in $(seq 100); do [ -s "$PF" ] && break; sleep 0.05; done
[ -s "$PF" ] || die "delay_proxy did not start"

# wait_for FILE TEXT: until FILE has TEXT (20 s at most).
wait_for() {
    for _ in $(seq 400); do
        grep -q -F -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# The waits let the circuit breaker try the server again (after every server failed it
# answers TEMP at once for 1 s, then 2 s, 4 s... while failures go on), so that each
# fault meets a request.
conf "$WORK/f.conf" "ldap://127.0.0.1:$(cat "$PF")" "TLSEnable no"
cat > "$WORK/f.story" <<EOS
timeout 30
client g user=alice pass=Alice-Pass-1 cn=g
expect g fail-contains TEMP
expect file $WORK/go1 go
wait 2000ms
client h user=alice pass=Alice-Pass-1 cn=h
expect h fail-contains TEMP
expect file $WORK/go2 go
wait 3000ms
client c user=alice pass=Alice-Pass-1 cn=c
expect c fail-contains TEMP
expect file $WORK/go3 go
wait 5000ms
client ok user=alice pass=Alice-Pass-1 cn=ok
expect ok ok
client no user=alice pass=Wrong-Pass-1 cn=no
expect no fail "authentication failed"
EOS
t0=$(date +%s%N)
"$REFCORE" --plugin "$PLUGIN" "$WORK/f.conf" -- --verb 11 --poll fast \
    --scenario "$WORK/f.story" > "$WORK/f.out" 2>&1 &
core=$!
wait_for "$WORK/f.out" "SENT CONTROL [g]: 'AUTH_FAILED" || fail "no answer for g (garbage)"
echo huge > "$FAULT"
echo go > "$WORK/go1"
wait_for "$WORK/f.out" "SENT CONTROL [h]: 'AUTH_FAILED" || fail "no answer for h (10 MiB)"
echo close > "$FAULT"
echo go > "$WORK/go2"
wait_for "$WORK/f.out" "SENT CONTROL [c]: 'AUTH_FAILED" || fail "no answer for c (closed)"
: > "$FAULT"
echo go > "$WORK/go3"
wait "$core" || { fail "the story (exit $?)"; tail -n 30 "$WORK/f.out" | sed 's/^/    /'; }
echo "the story took $((($(date +%s%N) - t0) / 1000000)) ms (3 faults; pauses of 2, 3 and 5 s)"
kill "$proxy" 2> /dev/null
wait "$proxy" 2> /dev/null

for cn in g h c; do
    grep "SENT CONTROL \[$cn\]: 'AUTH_FAILED" "$WORK/f.out" | sed 's/^/  /'
    grep -q "SENT CONTROL \[$cn\]: 'AUTH_FAILED,TEMP" "$WORK/f.out" ||
        fail "client $cn did not get TEMP"
    grep "PLUGIN ovp-auth-ldap:.*\[$cn@" "$WORK/f.out" | tail -n 1 | sed 's/^/  /'
    grep -q "PLUGIN ovp-auth-ldap:.*\[$cn@" "$WORK/f.out" ||
        fail "no plugin line names client $cn"
done
# Each fault met the server (not only the circuit breaker): one line per failed bind.
n=$(grep -c 'the service bind as .* failed' "$WORK/f.out")
[ "$n" -eq 3 ] || fail "$n failed service binds logged, expected 3 (garbage, 10 MiB, closed)"
grep -q "SENT CONTROL \[c\]: 'AUTH_FAILED,TEMP: no directory server is reachable" "$WORK/f.out" ||
    fail "client c was answered by the circuit breaker, not by the closed connection"
grep -q "Sanitizer" "$WORK/f.out" && fail "a sanitizer report"
no_secrets "$WORK/f.out" Alice-Pass-1 Wrong-Pass-1 Svc-Pass-9
finish
