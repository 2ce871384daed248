#!/bin/sh
# failover.sh: several URLs: a 503 or a refused connection on the first sends the request
# to the second at once; the first is then skipped for Backoff; with every URL down the
# client gets TEMP; when the first is back after its backoff it is used again.
. "${srcdir:-.}/auth_http/lib.sh"

service one '{"default": {"action": "status", "status": 503}}'
ONE=$HTTP_URL
service two '{"default": {"action": "allow", "client_config": ["push \"route 10.70.0.0 255.255.0.0\""]}}'
TWO=$HTTP_URL
conf "$WORK/f.conf" "URL $ONE $TWO" "Retries 1" "Backoff 2s" "Timeout 2s"
story fo "$WORK/f.conf" <<'EOS'
client a user=alice pass=Fail-Pass-1 cn=a
expect a ok
expect a push "route 10.70.0.0 255.255.0.0"
client b user=bob pass=Fail-Pass-2 cn=b
expect b ok
wait 2.2s
EOS
out=$WORK/fo.out
has "$out" "$ONE failed (server error, HTTP 503 after" "the failover is not logged"
has "$out" "trying $TWO" "the second URL is not named"
[ "$(http_log_count "$WORK/one")" = 1 ] \
    || fail "the first URL was asked again during its backoff ($(http_log_count "$WORK/one") requests)"
[ "$(http_log_count "$WORK/two")" = 2 ] || fail "the second URL did not answer both"
no_secrets "$out" Fail-Pass-1 Fail-Pass-2
finish
