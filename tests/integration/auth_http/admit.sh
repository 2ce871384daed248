#!/bin/sh
# admit.sh: admission caps (MaxPerUser, MaxPerAddress, their defaults 8 and 32) under a
# flood of 300 clients at once from one address, against a service that takes 3 s for
# the flood's users: for one username, all but about 8 are refused at once with TEMP;
# for 300 usernames from that address, all but about 32. The refusals' log lines stay
# within their budget (10 per 10 s, then a summary), and 40 other clients (each its own
# user and address) are answered in their normal time during each flood (figures
# printed).
# Without the caps the flood held MaxInFlight and no other client was answered. Then,
# with MaxPerUser 1, that every way a request ends gives its counts back.
. "${srcdir:-.}/auth_http/lib.sh"
. "$srcdir/admit_lib.sh"

others=""
for i in $(seq 40); do others="$others\"user$i\": {\"action\": \"allow\"}, "; done
service main "{\"default\": {\"action\": \"allow\", \"delay_ms\": 3000}, \"users\": {${others%, }}}"
conf "$WORK/a.conf" "URL $HTTP_URL" "Timeout 10s"
"$REFCORE" --plugin "$PLUGIN" "$WORK/a.conf" -- --verb 4 --poll fast \
    --listen "unix:$WORK/core.sock" --serve > "$WORK/serve.out" 2>&1 &
CORE=$!
for _ in $(seq 50); do [ -S "$WORK/core.sock" ] && break; sleep 0.1; done
[ -S "$WORK/core.sock" ] || die "the core did not start: $(tail -n 5 "$WORK/serve.out")"

admit_floods
kill "$CORE"
wait "$CORE"
admit_check "the service"

# Every path gives the counts back: with MaxPerUser 1 the next client of the same user
# (300 ms later: the counts go back when the request is freed, just after its answer)
# is admitted after an allow, a deny, a 503, a timeout, a client gone mid-request; one
# held while the plugin is reloaded is freed at close (its table empty).
service paths '{"default": {"action": "deny", "reason": "nope"},
 "users": {"ok": {"action": "allow"}, "err": {"action": "status", "status": 503},
           "slow": {"action": "allow", "delay_ms": 4000},
           "gone": {"action": "allow", "delay_ms": 1000},
           "held": {"action": "allow", "delay_ms": 1500}}}'
conf "$WORK/p.conf" "URL $HTTP_URL" "Timeout 2s" "Retries 0" "MaxPerUser 1"
R='TEMP: too many authentications in progress for this user, try again later'
story paths "$WORK/p.conf" <<EOS
client a1 user=ok pass=Paths-Pass-1 addr=192.0.2.1:1
expect a1 ok
wait 300ms
client a2 user=ok pass=Paths-Pass-1 addr=192.0.2.2:1
expect a2 ok
wait 300ms
client d1 user=deny pass=Paths-Pass-1 addr=192.0.2.3:1
expect d1 fail nope
wait 300ms
client d2 user=deny pass=Paths-Pass-1 addr=192.0.2.4:1
expect d2 fail nope
wait 300ms
client e1 user=err pass=Paths-Pass-1 addr=192.0.2.5:1
expect e1 fail-contains 'could not be asked'
wait 300ms
client e2 user=err pass=Paths-Pass-1 addr=192.0.2.6:1
expect e2 fail-contains 'could not be asked'
wait 300ms
client t1 user=slow pass=Paths-Pass-1 addr=192.0.2.7:1
expect t1 fail-contains 'could not be asked'
wait 300ms
client t2 user=slow pass=Paths-Pass-1 addr=192.0.2.8:1
expect t2 fail-contains 'could not be asked'
wait 300ms
client g1 user=gone pass=Paths-Pass-1 addr=192.0.2.9:1
wait 300ms
client g2 user=GONE pass=Paths-Pass-1 addr=192.0.2.10:1
expect g2 fail "$R"
hangup g1
wait 2s
client g3 user=gone pass=Paths-Pass-1 addr=192.0.2.11:1
expect g3 ok
client h1 user=held pass=Paths-Pass-1 addr=192.0.2.12:1
wait 200ms
reload
wait 1s
client h2 user=held pass=Paths-Pass-1 addr=192.0.2.13:1
expect h2 ok
expect log 'authentication refused without the service: 1 authentications in progress for user "GONE" (MaxPerUser 1)'
expect no-log 'still counted at close'
EOS
grep -q 'still counted at close' "$WORK/paths.out" && fail "admission counts leaked at a reload"
[ "$(grep -c 'authentication refused without the service' "$WORK/paths.out")" = 1 ] ||
    fail "not exactly one refusal on the paths: $(grep 'refused without' "$WORK/paths.out")"

# A bad value is a config error naming the key.
conf "$WORK/bad.conf" "URL $HTTP_URL" "MaxPerUser 0"
"$REFCORE" --plugin "$PLUGIN" "$WORK/bad.conf" -- --clients 1 --username a --password b \
    > "$WORK/bad.out" 2>&1 && fail "MaxPerUser 0 was accepted"
grep -q 'MaxPerUser' "$WORK/bad.out" || fail "no error naming MaxPerUser: $(tail -n 3 "$WORK/bad.out")"
finish
