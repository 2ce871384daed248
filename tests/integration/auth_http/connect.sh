#!/bin/sh
# connect.sh: Hooks client-connect: CLIENT_CONNECT_V2 asks the service (hook
# "client-connect", no password) and returns DEFERRED; CLIENT_CONNECT_DEFER_V2 gives the
# answer's client_config when it is in (a slow service included), a deny or a 503
# disconnects the client. Hooks "auth client-connect": both asked, the password only at
# auth.
. "${srcdir:-.}/auth_http/lib.sh"

# Without an auth plugin there is no username at client-connect (OpenVPN's env has none):
# the answers go in order ("times": 1 each), the clients one after the other.
service main '{"default": {"action": "deny", "reason": "not you"},
 "rules": [
  {"hook": "client-connect", "times": 1, "action": {"action": "allow",
    "client_config": ["push \"route 10.90.0.0 255.255.0.0\"", "ifconfig-push 10.8.0.91 255.255.0.0"]}},
  {"hook": "client-connect", "times": 1, "action": {"action": "allow", "delay_ms": 1500,
    "client_config": ["push \"route 10.91.0.0 255.255.0.0\""]}},
  {"hook": "client-connect", "times": 1, "action": {"action": "deny"}},
  {"hook": "client-connect", "times": 1, "action": {"action": "status", "status": 503}},
  {"username": "alice", "hook": "client-connect", "action": {"action": "allow",
    "client_config": ["push \"route 10.92.0.0 255.255.0.0\""]}},
  {"hook": "auth", "action": {"action": "allow"}}
 ]}'
conf "$WORK/c.conf" "URL $HTTP_URL" "Hooks client-connect" "Retries 0"
story cc "$WORK/c.conf" <<'EOS'
client a user=alice pass=Cc-Pass-1 cn=a
expect a ok
expect a push "route 10.90.0.0 255.255.0.0"
expect a addr 10.8.0.91
expect call "CLIENT_CONNECT_V2"
client s user=slow pass=Cc-Pass-2 cn=s
expect s ok
expect s push "route 10.91.0.0 255.255.0.0"
client b user=bob pass=Cc-Pass-3 cn=b
expect b fail
client d user=down pass=Cc-Pass-4 cn=d
expect d fail
EOS
out=$WORK/cc.out
has "$out" "CLIENT_CONNECT_V2" "no CLIENT_CONNECT_V2 call"
grep -q "PLUGIN_CLIENT_CONNECT_V2 status=2" "$out" || fail "CLIENT_CONNECT_V2 did not return DEFERRED"
has "$out" "CLIENT_CONNECT_DEFER_V2" "no CLIENT_CONNECT_DEFER_V2 call"
has "$out" "deny by $HTTP_URL: HTTP 401 in" "bob's deny is not logged"
has "$out" "temp by $HTTP_URL: HTTP 503 in" "the 503 is not logged"
[ "$(http_log_count "$WORK/main" 'e["hook"] == "client-connect"')" = 4 ] \
    || fail "not every client-connect reached the service"
[ "$(http_log_count "$WORK/main" '"password" in e["body"]')" = 0 ] \
    || fail "a password was sent at client-connect"
[ "$(http_log_count "$WORK/main" 'e["hook"] == "auth"')" = 0 ] \
    || fail "auth was asked with Hooks client-connect only"

# Both hooks: auth with the password, client-connect without.
conf "$WORK/b.conf" "URL $HTTP_URL" "Hooks auth client-connect" "Retries 0"
before=$(http_log_count "$WORK/main")
story both "$WORK/b.conf" <<'EOS'
client a user=alice pass=Cc-Pass-5 cn=a
expect a ok
expect a push "route 10.92.0.0 255.255.0.0"
EOS
[ "$(http_log_count "$WORK/main")" = $((before + 2)) ] || fail "both hooks: not two requests"
[ "$(http_log_field "$WORK/main" -2 body.password)" = Cc-Pass-5 ] || fail "no password at auth"
[ -z "$(http_log_field "$WORK/main" -1 body.password)" ] || fail "a password at client-connect"
no_secrets "$out" Cc-Pass-1 Cc-Pass-2 Cc-Pass-3 Cc-Pass-4
no_secrets "$WORK/both.out" Cc-Pass-5
finish
