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
conf "$WORK/r.conf" "URL $HTTP_URL" "Timeout 10s" "BearerTokenFile $WORK/token.txt"
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
no_secrets "$out" Reload-Pass-1 Reload-Pass-2 Reload-Pass-3 Reload-Pass-4 Reload-Token-9
finish
