#!/bin/sh
# temp.sh: every way the service can fail gives the client a TEMP reason (it retries):
# 500, 503, slower than Timeout, connection refused, a dropped connection, a 10 MiB body
# (over MaxBody), invalid JSON on a 200; a redirect is not followed (a deny, logged with
# its status); the service's answers arrive as scripted per user.
. "${srcdir:-.}/auth_http/lib.sh"

T="TEMP: the authentication service could not be asked, try again"
service main '{"default": {"action": "deny"},
 "users": {
  "e500": {"action": "status", "status": 500, "body": "oops"},
  "e503": {"action": "status", "status": 503, "body": {"reason": "maintenance"}},
  "slow": {"action": "allow", "delay_ms": 3000},
  "drop": {"action": "close"},
  "big": {"action": "big", "bytes": 10485760, "status": 200},
  "badjson": {"action": "invalid_json", "status": 200},
  "redir": {"action": "redirect", "status": 302, "location": "http://127.0.0.1:1/elsewhere"},
  "ok": {"action": "allow"}
 }}'
conf "$WORK/t.conf" "URL $HTTP_URL" "Timeout 1s" "ConnectTimeout 500ms" "Retries 0" \
    "Backoff 0"
story temp "$WORK/t.conf" <<EOS
client a user=e500 pass=p1 cn=a
expect a fail "$T"
client b user=e503 pass=p2 cn=b
expect b fail "$T"
client c user=slow pass=p3 cn=c
expect c fail "$T"
client d user=drop pass=p4 cn=d
expect d fail "$T"
client e user=big pass=p5 cn=e
expect e fail "$T"
client f user=badjson pass=p6 cn=f
expect f fail "$T"
client g user=redir pass=p7 cn=g
expect g fail "authentication failed"
client h user=ok pass=p8 cn=h
expect h ok
EOS
out=$WORK/temp.out
has "$out" "[a@127.0.0.1:1024] temp by $HTTP_URL: HTTP 500 in" "500 not logged as temp"
has "$out" "temp by $HTTP_URL: HTTP 503 in" "503 not logged as temp"
has "$out" "Timeout was reached" "the timeout is not logged"
has "$out" "the body is over MaxBody (65536 bytes)" "the 10 MiB body is not logged"
has "$out" "a malformed answer: invalid JSON" "invalid JSON is not logged"
has "$out" "deny by $HTTP_URL: HTTP 302 in" "the redirect is not logged with its status"
has "$out" "a redirect, not followed" "the redirect is not called one"
# The redirect was not followed: nothing reached port 1 (nothing listens there anyway),
# and the service saw one request from redir.
[ "$(http_log_count "$WORK/main" 'e["username"] == "redir"')" = 1 ] \
    || fail "the redirect was followed or retried"

# Connection refused: a service that is gone.
service gone '{"default": {"action": "allow"}}'
GONE=$HTTP_URL
http_stop "$WORK/gone"
conf "$WORK/g.conf" "URL $GONE" "Retries 0"
story gone "$WORK/g.conf" <<EOS
client a user=alice pass=Gone-Pass-1 cn=a
expect a fail "$T"
EOS
has "$WORK/gone.out" "Couldn't connect to server" "connection refused is not logged"
no_secrets "$out" p1x
finish
