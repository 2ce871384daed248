#!/bin/sh
# reload.sh: OpenVPN's SIGHUP (plugin closed and opened again in the same process):
# clients before and after are answered, a client whose request is in flight at the
# reload gets TEMP (it retries), no thread is created by the reopen (the backend thread
# is parked and reused), secrets still work after it.
. "${srcdir:-.}/auth_http/lib.sh"

secret "$WORK/token.txt" "Reload-Token-9"
service main '{"default": {"action": "allow", "client_config": ["push \"route 10.80.0.0 255.255.0.0\""]},
 "users": {"slow": {"action": "allow", "delay_ms": 3000}}}' \
    --bearer-token-file "$WORK/token.txt"
conf "$WORK/r.conf" "URL $HTTP_URL" "Timeout 10s" "BearerTokenFile $WORK/token.txt" \
    "MaxPerAddress 1000000" "MaxPerUser 1000000" # one user, one address: caps aside
story reload "$WORK/r.conf" <<'EOS'
client a user=alice pass=Reload-Pass-1 cn=a
expect a ok
expect a push "route 10.80.0.0 255.255.0.0"
client s user=slow pass=Reload-Pass-2 cn=s
wait 300ms
reload
expect s restart
client b user=bob pass=Reload-Pass-3 cn=b
expect b ok
expect b push "route 10.80.0.0 255.255.0.0"
reload
client c user=carol pass=Reload-Pass-4 cn=c
expect c ok
EOS
out=$WORK/reload.out
[ "$(grep -c "service $HTTP_URL" "$out")" = 3 ] || fail "the plugin was not opened three times"
[ "$(http_log_count "$WORK/main" 'e["bearer"] == "ok"')" = "$(http_log_count "$WORK/main")" ] \
    || fail "a request after the reload lacked the bearer token"
# Threads: a served core, its tasks counted after open, after clients (libcurl must not
# start resolver threads: the URL names "localhost") and after two SIGHUP reloads.
LURL=$(printf '%s' "$HTTP_URL" | sed 's/127\.0\.0\.1/localhost/')
conf "$WORK/t.conf" "URL $LURL" "BearerTokenFile $WORK/token.txt" \
    "MaxPerAddress 1000000" "MaxPerUser 1000000" # one user, one address: caps aside
"$REFCORE" --plugin "$PLUGIN" "$WORK/t.conf" -- --verb 3 --listen "unix:$WORK/core.sock" \
    --serve > "$WORK/serve.out" 2>&1 &
CORE=$!
# the socket can appear before the plugin is open: wait for the plugin's open line too
for _ in $(seq 50); do
    [ -S "$WORK/core.sock" ] && grep -q "service $LURL" "$WORK/serve.out" && break
    sleep 0.1
done
tasks() { ls "/proc/$CORE/task" | wc -l; }
drive() {
    "$REFCORE" --drive "unix:$WORK/core.sock" --clients 20 --username "$1" \
        --password Reload-Pass-5 > "$WORK/drive-$1.json" 2>&1 || fail "drive $1: $(cat "$WORK/drive-$1.json")"
}
t0=$(tasks)
drive t1
t1=$(tasks)
kill -HUP "$CORE"; sleep 0.5
kill -HUP "$CORE"; sleep 0.5
drive t2
t2=$(tasks)
kill "$CORE"; wait "$CORE"
echo "threads: after open $t0, after clients $t1, after two reloads and clients $t2"
[ "$t0" = "$t1" ] && [ "$t1" = "$t2" ] || fail "threads changed: $t0 -> $t1 -> $t2"
[ "$(grep -c "service $LURL" "$WORK/serve.out")" = 3 ] || fail "the served core did not reopen twice"
no_secrets "$WORK/serve.out" Reload-Pass-5 Reload-Token-9
no_secrets "$out" Reload-Pass-1 Reload-Pass-2 Reload-Pass-3 Reload-Pass-4 Reload-Token-9
finish
