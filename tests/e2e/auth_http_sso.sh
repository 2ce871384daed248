#!/bin/bash
# auth_http_sso.sh: ovp-auth-http's pending flows with a real OpenVPN 2.6 pair, the
# service being the fixture (tests/fixtures/http_service.py) over HTTPS in the server's
# namespace, and the clients answering as a user's GUI would (auth_http_gui.py on their
# management interface):
#   - web single sign-on: the service answers 202 {"pending": {"url", "timeout"}, "ticket"};
#     the first try ends in AUTH_FAILED,TEMP, the client comes back with the same
#     credentials, gets OPEN_URL (or WEB_AUTH for a webauth-only client), the test "signs
#     in" at that URL (a GET from the server side, as the user's browser would), the
#     plugin's status poll then gets 200 with client_config and the tunnel comes up with
#     the pushed route;
#   - a sign-in that never happens: the client is refused when the pending time is over;
#   - a client whose IV_SSO lacks the method is told so;
#   - a challenge (202 {"challenge": ...}): CR_TEXT reaches the GUI, its cr-response is
#     posted to the service ({"hook": "crresponse", "ticket", "response"}); the right code
#     connects, a wrong one is refused with the service's reason.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/http_service.sh"
http_available || e2e_skip_or_fail "python3 or openssl missing (apt-get install python3 openssl)"
e2e_init
e2e_pki alice bob carol dave erin frank
PLUGIN=$(e2e_so "$top_builddir/auth-http/.libs/ovp-auth-http.so")
e2e_sanitized "$PLUGIN"
GUI="$top_srcdir/tests/e2e/auth_http_gui.py"

HTTP_WRAP="ip netns exec $E2E_SRV"
H="$E2E_DIR/http"
http_pki "$H" || e2e_fail "http_pki failed"
chmod -R a+rX "$H"
cat > "$H/script.json" <<'JSON'
{
  "default": {"action": "deny", "reason": "unknown user"},
  "users": {
    "sso-user": {"action": "pending", "url": "{base}/sso/{ticket}", "timeout": 60,
                 "final": {"action": "allow", "client_config": ["push \"route 10.78.0.0 255.255.0.0\""]}},
    "web-user": {"action": "pending", "url": "{base}/sso/{ticket}", "timeout": 60},
    "late-user": {"action": "pending", "url": "{base}/sso/{ticket}", "timeout": 8},
    "nosso-user": {"action": "pending", "url": "{base}/sso/{ticket}", "timeout": 60},
    "otp-user": {"action": "challenge", "text": "Enter your code", "echo": false,
                 "answer": "246810", "wrong": {"action": "deny", "reason": "wrong code"}}
  }
}
JSON
http_start "$H" "$H/script.json" --tls "$H/pki/server.pem" "$H/pki/server.key" \
    || e2e_fail "the fixture service did not start in the server namespace"
trap 'http_stop "$H"; e2e_cleanup' EXIT

cat > "$E2E_DIR/auth-http.conf" <<CONF
<HTTP>
    URL              $HTTP_URL
    CACertFile       $H/pki/ca.pem
    Timeout          3
    Fields           username password common_name untrusted_ip untrusted_port peer_info
    PendingReconnect 30
</HTTP>
CONF
chmod 644 "$E2E_DIR/auth-http.conf"
e2e_server_conf "plugin $PLUGIN $E2E_DIR/auth-http.conf"
e2e_start_server

gui() { # gui NAME PORT ARGS...: the GUI-like management client of client NAME
    local name=$1 port=$2
    shift 2
    ip netns exec "$E2E_CLI" python3 "$GUI" "$port" "$E2E_DIR/$name.mgmt" "$@" &
    E2E_PIDS="$E2E_PIDS $!"
}
# browse URL: the user's browser at URL (from the server side, trusting the test CA)
browse() {
    ip netns exec "$E2E_SRV" python3 -c '
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
with urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10) as r:
    print(r.status, r.read().decode().strip())' "$1" "$H/pki/ca.pem"
}
# wait_mgmt NAME PATTERN SECONDS: 0 once NAME.mgmt has a line matching PATTERN; 1 at once
# when the GUI is told of a refusal that is not TEMP
wait_mgmt() {
    local f="$E2E_DIR/$1.mgmt" t=$(( $3 * 10 ))
    while [ $t -gt 0 ]; do
        grep -qE -- "$2" "$f" 2>/dev/null && return 0
        grep "^>>> >PASSWORD:Verification Failed" "$f" 2>/dev/null | grep -qv "\['TEMP" && return 1
        sleep 0.1
        t=$((t - 1))
    done
    return 1
}
hooks() { # hooks USER: the hooks of the requests the service got for USER (by name, or by
          # a ticket issued to USER), in order
    http_log_query "$H" 'e.get("hook")' "e.get('username') == '$1' or (isinstance(e['body'], dict) and e['body'].get('ticket') in [x['answer'].get('ticket') for x in entries if x.get('username') == '$1'])" | tr '\n' ' '
}

# 1. web SSO with a GUI (management-query-passwords, management-hold, auth-retry interact)
e2e_client sso alice "" "" "auth-user-pass
auth-retry interact
setenv IV_SSO openurl,crtext
setenv IV_GUI_VER ovp-e2e-gui
management 127.0.0.1 7505
management-query-passwords
management-hold"
gui sso 7505 --user sso-user --password Sso-Pass-1 --urls "$E2E_DIR/sso.urls"
wait_mgmt sso "^>>> >INFOMSG:OPEN_URL:" 30 \
    || e2e_fail "no OPEN_URL reached the GUI: $(grep -e 'AUTH_FAILED' -e 'PASSWORD:Verif' "$E2E_DIR/sso.mgmt" | tail -n 2 | tr '\n' '|')"
grep -q "^>>> >PASSWORD:Verification Failed: 'Auth' \['TEMP" "$E2E_DIR/sso.mgmt" \
    || e2e_soft_fail "the first try did not end in TEMP"
[ "$(grep -c "^>>> >PASSWORD:Need 'Auth'" "$E2E_DIR/sso.mgmt")" = 1 ] \
    || e2e_soft_fail "the GUI was asked for the password again"
URL=$(head -n 1 "$E2E_DIR/sso.urls")
case $URL in
    "$HTTP_BASE/sso/tk-"*) e2e_log "ok: TEMP first, then OPEN_URL:$URL on the GUI" ;;
    *) e2e_fail "the GUI got the URL '$URL', not the service's $HTTP_BASE/sso/<ticket>" ;;
esac
sleep 2 # a while on the sign-in page: the plugin polls, the service says "not yet"
out=$(browse "$URL") || e2e_fail "signing in at $URL failed"
[ "$out" = "200 signed in" ] || e2e_fail "signing in at $URL: $out"
if e2e_wait_up sso 20; then
    e2e_log "ok: signed in, the tunnel is up"
    ip -n "$E2E_CLI" route show 10.78.0.0/16 | grep -q "dev tun" \
        || e2e_soft_fail "the route from the final answer's client_config is not in the client"
    ip netns exec "$E2E_CLI" ping -c 1 -W 2 198.51.100.1 >/dev/null \
        || e2e_soft_fail "no ping across the SSO client's tunnel"
else
    e2e_soft_fail "after signing in the client did not connect: $E2E_WHY"
fi
h=$(hooks sso-user)
case $h in
    "auth "*status*) e2e_log "ok: the service saw: $h" ;;
    *) e2e_soft_fail "the service saw these hooks for sso-user: $h" ;;
esac
[ "$(http_log_count "$H" "e.get('username') == 'sso-user' and e.get('hook') == 'auth'")" = 1 ] \
    || e2e_soft_fail "the service was asked more than once (the reconnect should use the kept ticket): $h"
[ "$(http_log_count "$H" "e.get('hook') == 'status' and e['answer']['status'] == 202")" -ge 1 ] \
    || e2e_soft_fail "no status poll before the sign-in"
[ "$(http_log_count "$H" "e.get('hook') == 'status' and 'password' in e['body']")" = 0 ] \
    || e2e_soft_fail "a status poll carried the password"
sso_peer=$(http_log_query "$H" 'e["body"].get("peer_info", {}).get("IV_SSO")' "e.get('username') == 'sso-user'" | head -n 1)
[ "$sso_peer" = "openurl,crtext" ] || e2e_soft_fail "peer_info.IV_SSO sent to the service: '$sso_peer'"
e2e_stop sso

# 2. a webauth-only client without management: WEB_AUTH in its log; signed in by the service
e2e_client web bob web-user Web-Pass-2 "setenv IV_SSO webauth"
e2e_wait_log web.log "Info command was pushed by server \('WEB_AUTH::$HTTP_BASE/sso/tk-" 30 \
    || e2e_soft_fail "no WEB_AUTH for a webauth-only client: $(grep -e 'Info command' -e 'AUTH_FAILED' "$E2E_DIR/web.log" | tail -n 2 | tr '\n' '|')"
http_complete_user "$H" web-user >/dev/null
if e2e_wait_up web 20; then
    e2e_log "ok: a webauth-only client got WEB_AUTH and connected after the sign-in"
else
    e2e_soft_fail "the webauth client did not connect after the sign-in: $E2E_WHY"
fi
e2e_stop web

# 3. a sign-in that never happens (pending timeout 8 s): the client must be told
#    "sign-in timed out" (AUTH_FAILED, not TEMP) and never connect. OpenVPN's server checks
#    a long-deferred result only every 8 s (ssl_verify.c cache_intervals), and the client
#    gives up on its own at the announced timeout (restart "no-push-reply", a new round one):
#    the plugin's refusal must reach it before that.
e2e_client late carol late-user Late-Pass-3 "setenv IV_SSO openurl"
e2e_wait_log late.log "OPEN_URL" 30 || e2e_soft_fail "no OPEN_URL for late-user"
if e2e_wait_up late 40; then
    e2e_soft_fail "a client that never signed in connected"
else
    e2e_log "late-user, never signed in: ${E2E_WHY}"
    case $E2E_WHY in
        "AUTH_FAILED,"*"timed out"*) e2e_log "ok: the pending time ran out: $E2E_WHY" ;;
        *) e2e_soft_fail "a sign-in that never happened ended with: $E2E_WHY" ;;
    esac
fi
e2e_stop late

# 4. a client whose IV_SSO lacks openurl/webauth is told why
e2e_client nosso dave nosso-user Nosso-Pass-4 "setenv IV_SSO crtext"
e2e_wait_up nosso 20 && e2e_fail "a client without openurl/webauth connected"
case $E2E_WHY in
    "AUTH_FAILED,this client cannot do"*) e2e_log "ok: without openurl: $E2E_WHY" ;;
    *) e2e_soft_fail "a client without openurl got: $E2E_WHY" ;;
esac
e2e_stop nosso

# 5. a challenge answered right through the management interface (cr-response)
e2e_client otp erin otp-user Otp-Pass-5 "setenv IV_SSO crtext
management 127.0.0.1 7506"
gui otp 7506 --cr-answer 246810
if e2e_wait_up otp 30; then
    e2e_log "ok: the right code connects"
else
    e2e_soft_fail "the right code did not connect: $E2E_WHY"
fi
grep -q "^>>> >INFOMSG:CR_TEXT:R:Enter your code$" "$E2E_DIR/otp.mgmt" \
    || e2e_soft_fail "no CR_TEXT:R:Enter your code on the GUI: $(grep INFOMSG "$E2E_DIR/otp.mgmt" | head -n 2 | tr '\n' '|')"
r=$(http_log_query "$H" '"%s %s" % (e["body"].get("response"), e.get("challenge"))' "e.get('hook') == 'crresponse'" | head -n 1)
[ "$r" = "246810 right" ] || e2e_soft_fail "the service got this crresponse (answer, verdict): '$r'"
e2e_stop otp

# 6. a wrong code is refused with the service's reason
e2e_client otp2 frank otp-user Otp-Pass-5 "setenv IV_SSO crtext
management 127.0.0.1 7507"
gui otp2 7507 --cr-answer 111111
e2e_wait_up otp2 30 && e2e_soft_fail "a wrong code connected"
case $E2E_WHY in
    "AUTH_FAILED,wrong code"*) e2e_log "ok: a wrong code: $E2E_WHY" ;;
    *) e2e_soft_fail "a wrong code got: $E2E_WHY" ;;
esac
e2e_stop otp2

grep "ovp-auth-http" "$E2E_DIR/server.log" \
    | grep -q -e Sso-Pass-1 -e Web-Pass-2 -e Otp-Pass-5 -e 246810 -e MjQ2ODEw \
    && e2e_soft_fail "a password or a code reached the log"
e2e_finish
e2e_log "ok: web SSO (OPEN_URL, WEB_AUTH), timeout, refusal without IV_SSO, challenge right and wrong"
