#!/bin/sh
# basic.sh: allow, deny with the service's reason (sanitised), client_config returned at
# CLIENT_CONNECT_V2, 204, the request as the service saw it (JSON fields, headers), and no
# password in the log at verb 11.
. "${srcdir:-.}/auth_http/lib.sh"

service main '{"default": {"action": "deny"},
 "users": {
  "alice": {"action": "allow", "reason": "welcome",
            "client_config": ["push \"route 10.50.0.0 255.255.0.0\"", "ifconfig-push 10.8.0.77 255.255.0.0"]},
  "bob": {"action": "allow204"},
  "carol": {"action": "deny", "status": 403, "reason": "account locked,\r\nsee IT\u0007 desk"},
  "dave": {"action": "allow", "client_config": ["push \"route 1.2.3.0 255.255.255.0\"\nfoo"]}
 }}'
conf "$WORK/a.conf" "URL $HTTP_URL" "Timeout 3s"
story basic "$WORK/a.conf" --verb 11 <<'EOS'
client a user=alice pass=Alice-Pass-1 cn=a
expect a ok
expect a push "route 10.50.0.0 255.255.0.0"
expect a addr 10.8.0.77
client b user=bob pass=Bob-Pass-2 cn=b
expect b ok
client c user=carol pass=Carol-Pass-3 cn=c
expect c fail "account locked,  see IT  desk"
client d user=dave pass=Dave-Pass-4 cn=d
expect d fail "authentication failed: the service's client configuration is invalid"
client e user=eve pass=Eve-Pass-5 cn=e
expect e fail "authentication failed"
EOS
out=$WORK/basic.out
has "$out" "allow by $HTTP_URL: HTTP 200 in" "no decision line for alice"
has "$out" "deny by $HTTP_URL: HTTP 403 in" "no decision line for carol"
has "$out" "[a@" "decision lines do not name the client"
# What the service received.
[ "$(http_log_field "$WORK/main" 1 body.username)" = alice ] || fail "username not sent"
[ "$(http_log_field "$WORK/main" 1 body.password)" = Alice-Pass-1 ] || fail "password not sent"
[ "$(http_log_field "$WORK/main" 1 body.hook)" = auth ] || fail "hook not sent"
[ "$(http_log_field "$WORK/main" 1 body.common_name)" = a ] || fail "common_name not sent"
[ -n "$(http_log_field "$WORK/main" 1 body.untrusted_ip)" ] || fail "untrusted_ip not sent"
[ -n "$(http_log_field "$WORK/main" 1 body.untrusted_port)" ] || fail "untrusted_port not sent"
[ "$(http_log_field "$WORK/main" 1 method)" = POST ] || fail "not a POST"
[ "$(http_log_field "$WORK/main" 1 headers.content-type)" = application/json ] \
    || fail "Content-Type is not application/json"
case "$(http_log_field "$WORK/main" 1 headers.user-agent)" in
    ovp-auth-http/*) ;;
    *) fail "User-Agent is not ovp-auth-http/<version>" ;;
esac
rid1=$(http_log_field "$WORK/main" 1 headers.x-ovp-request-id)
rid2=$(http_log_field "$WORK/main" 2 headers.x-ovp-request-id)
case "$rid1" in *[!0-9a-f]* | "") fail "X-OVP-Request-Id \"$rid1\" is not hex" ;; esac
[ "$rid1" != "$rid2" ] || fail "two requests share the request id $rid1"
no_secrets "$out" Alice-Pass-1 Bob-Pass-2 Carol-Pass-3 Dave-Pass-4 Eve-Pass-5
finish
