#!/bin/sh
# crflood.sh: one client sends 10,000 CLIENT_CRRESPONSE messages nobody asked for (half
# not base64: refused in OpenVPN's thread; half valid: refused by the backend thread).
# The plugin's complaints stay within their budget (10 lines per 10 s per kind, then a
# summary), and other clients are still answered in their normal time during the flood
# (verb 11; the figures are printed).
. "${srcdir:-.}/auth_http/lib.sh"

service main '{"default": {"action": "allow"}}'
conf "$WORK/f.conf" "URL $HTTP_URL" "Timeout 5s" \
    "MaxPerAddress 1000000" "MaxPerUser 1000000" # one user, one address: caps aside
"$REFCORE" --plugin "$PLUGIN" "$WORK/f.conf" -- --verb 11 --poll fast \
    --listen "unix:$WORK/core.sock" --serve > "$WORK/serve.out" 2>&1 &
CORE=$!
for _ in $(seq 50); do [ -S "$WORK/core.sock" ] && break; sleep 0.1; done
[ -S "$WORK/core.sock" ] || die "the core did not start: $(tail -n 5 "$WORK/serve.out")"

# drive NAME: 200 clients at once, all answered; how long that took (ms) in $WORK/NAME.ms.
drive() {
    _t0=$(date +%s%N)
    "$REFCORE" --drive "unix:$WORK/core.sock" --clients 200 --username "$1" \
        --password Flood-Pass-1 > "$WORK/$1.drive" 2>&1 || fail "drive $1: $(cat "$WORK/$1.drive")"
    echo $((($(date +%s%N) - _t0) / 1000000)) > "$WORK/$1.ms"
}

drive base
python3 "$srcdir/crflood.py" "$WORK/core.sock" flooder Flood-Pass-2 10000 \
    > "$WORK/flood.txt" 2>&1 &
FLOOD=$!
drive during
wait "$FLOOD" || fail "the flooder: $(cat "$WORK/flood.txt")"
kill "$CORE"
wait "$CORE"

complaints=$(grep -c 'PLUGIN ovp-auth-http:.*challenge response' "$WORK/serve.out")
echo "$(cat "$WORK/flood.txt"); plugin lines about them: $complaints;" \
    "log size $(wc -c < "$WORK/serve.out") bytes, $(wc -l < "$WORK/serve.out") lines"
base=$(cat "$WORK/base.ms")
during=$(cat "$WORK/during.ms")
echo "200 other clients answered in $base ms before the flood, $during ms during it"
grep -q 'flood 10000 messages handled' "$WORK/flood.txt" || fail "the flood was not handled"
# Two kinds (not base64 / for no authentication), 10 each per window.
[ "$complaints" -le 20 ] || fail "$complaints plugin lines about challenge responses (at most 20)"
[ "$complaints" -ge 2 ] || fail "no complaint at all about the unsolicited responses"
[ "$(grep -c "authentication succeeded" "$WORK/serve.out")" -ge 400 ] ||
    fail "not every driven client was authenticated"
# "Normal time": all 200 within 3 times as long as before (plus 500 ms of slack for a
# machine shared with other builds).
[ "$during" -lt $((3 * base + 500)) ] ||
    fail "other clients were slow during the flood: $during ms, $base ms before"
no_secrets "$WORK/serve.out" Flood-Pass-1 Flood-Pass-2
finish
