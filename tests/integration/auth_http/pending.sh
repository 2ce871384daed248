#!/bin/sh
# pending.sh: the 202 two-round design. Round one: the service answers 202, the client
# gets TEMP and reconnects; round two writes the pending file (OPEN_URL / CR_TEXT) before
# DEFERRED. A web sign-in that completes (status polls until 200), one that times out
# ("sign-in timed out"), a challenge answered right (allowed, with client_config) and
# wrong (the service's reason), a client whose IV_SSO lacks the method (denied), and the
# ticket used once (a third connection starts a new round), a malformed 202 (TEMP).
. "${srcdir:-.}/auth_http/lib.sh"

R1="TEMP[backoff 1]: sign-in required, reconnecting"
service main '{"default": {"action": "deny"},
 "users": {
  "alice": {"action": "pending", "url": "{base}/sso/{ticket}", "timeout": 30, "after_polls": 2,
            "final": {"action": "allow", "client_config": ["push \"route 10.95.0.0 255.255.0.0\""]}},
  "tim": {"action": "pending", "url": "{base}/sso/{ticket}", "timeout": 3},
  "carol": {"action": "challenge", "text": "Enter your code", "echo": false, "answer": "246810",
            "final": {"action": "allow", "client_config": ["push \"route 10.96.0.0 255.255.0.0\""]}},
  "dave": {"action": "challenge", "text": "Enter your code", "answer": "246810",
           "wrong": {"action": "deny", "reason": "wrong code"}},
  "eve": {"action": "pending", "url": "{base}/sso/{ticket}"},
  "mal": {"action": "status", "status": 202, "body": {"pending": {"timeout": 5}}}
 }}'
conf "$WORK/p.conf" "URL $HTTP_URL" "PendingReconnect 20s"
story pending "$WORK/p.conf" --hand-window 60 <<EOS
client a user=alice pass=Sso-Pass-1 cn=a iv=IV_SSO=openurl,crtext
expect a fail "$R1"
client a2 user=alice pass=Sso-Pass-1 cn=a iv=IV_SSO=openurl,crtext
expect a2 pending "OPEN_URL:$HTTP_BASE/sso/"
expect a2 ok
expect a2 push "route 10.95.0.0 255.255.0.0"
client a3 user=alice pass=Sso-Pass-1 cn=a iv=IV_SSO=openurl,crtext
expect a3 fail "$R1"
client c user=carol pass=Cr-Pass-3 cn=c iv=IV_SSO=crtext
expect c fail "$R1"
client c2 user=carol pass=Cr-Pass-3 cn=c iv=IV_SSO=crtext
expect c2 pending "CR_TEXT:R:Enter your code"
crresponse c2 MjQ2ODEw
expect c2 ok
expect c2 push "route 10.96.0.0 255.255.0.0"
client d user=dave pass=Cr-Pass-4 cn=d iv=IV_SSO=crtext
expect d fail "$R1"
client d2 user=dave pass=Cr-Pass-4 cn=d iv=IV_SSO=crtext
expect d2 pending "CR_TEXT:R:Enter your code"
crresponse d2 MTExMTEx
expect d2 fail "wrong code"
client e user=eve pass=Sso-Pass-5 cn=e iv=IV_SSO=crtext
expect e fail "this client cannot do openurl"
client m user=mal pass=Sso-Pass-7 cn=m iv=IV_SSO=openurl
expect m fail "TEMP: the authentication service could not be asked, try again"
client t user=tim pass=Sso-Pass-6 cn=t iv=IV_SSO=openurl
expect t fail "$R1"
client t2 user=tim pass=Sso-Pass-6 cn=t iv=IV_SSO=openurl
expect t2 pending "OPEN_URL:"
timeout 8
expect t2 line AUTH_FAILED
EOS
out=$WORK/pending.out
has "$out" "pending by $HTTP_URL: HTTP 202 in" "round one is not logged as pending"
has "$out" "sign-in timed out" "the sign-in timeout is not logged"
has "$out" "a malformed 202" "a 202 without ticket is not logged as malformed"
n=$(http_log_count "$WORK/main" 'e["hook"] == "status" and e["body"].get("ticket")')
[ "$n" -ge 3 ] || fail "only $n status polls with a ticket"
[ "$(http_log_count "$WORK/main" 'e["hook"] == "crresponse" and e["body"].get("response") == "246810"')" = 1 ] \
    || fail "the right challenge answer did not reach the service once"
[ "$(http_log_count "$WORK/main" '"password" in e["body"] and e["hook"] != "auth"')" = 0 ] \
    || fail "a password was sent with a poll or a challenge answer"
no_secrets "$out" Sso-Pass-1 Cr-Pass-3 Cr-Pass-4 Sso-Pass-5 Sso-Pass-6 246810
finish
