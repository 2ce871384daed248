#!/bin/sh
# load.sh: 1,000 clients at once against a service that answers in 100 ms: every one is
# authenticated, the service saw 1,000 requests, OpenVPN's thread stalls little (the JSON
# line of ovp-refcore's load mode); past MaxInFlight clients get TEMP at once instead of
# waiting.
. "${srcdir:-.}/auth_http/lib.sh"

service main '{"default": {"action": "allow", "delay_ms": 100}}'
conf "$WORK/l.conf" "URL $HTTP_URL" "MaxInFlight 2000" "Timeout 20s" \
    "MaxPerAddress 1000000" "MaxPerUser 1000000" # one user, one address: caps aside
"$REFCORE" --plugin "$PLUGIN" "$WORK/l.conf" -- --quiet --poll fast --clients 1000 \
    --username load --password Load-Pass-1 --timeout 90 > "$WORK/load.json" 2> "$WORK/load.err" \
    || fail "not every client was authenticated: $(cat "$WORK/load.json") $(tail -n 5 "$WORK/load.err")"
echo "load: $(cat "$WORK/load.json")"
n=$(http_log_count "$WORK/main")
[ "$n" = 1000 ] || fail "the service saw $n requests, not 1000"

# Overflow: MaxInFlight 20, a slow service: the rest get TEMP at once.
service slow '{"default": {"action": "allow", "delay_ms": 1500}}'
conf "$WORK/o.conf" "URL $HTTP_URL" "MaxInFlight 20" "Timeout 5s" \
    "MaxPerAddress 1000000" "MaxPerUser 1000000" # one user, one address: caps aside
"$REFCORE" --plugin "$PLUGIN" "$WORK/o.conf" -- --verb 3 --poll fast --clients 100 \
    --username over --password Over-Pass-1 --timeout 60 > "$WORK/over.json" 2> "$WORK/over.err"
auth=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["authenticated"])' "$WORK/over.json")
[ "$auth" -ge 20 ] && [ "$auth" -lt 100 ] || fail "with MaxInFlight 20, $auth of 100 were authenticated"
grep -q "TEMP" "$WORK/over.err" || fail "no TEMP refusal for the overflow in the log"
no_secrets "$WORK/over.err" Over-Pass-1
finish
