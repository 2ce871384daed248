#!/bin/bash
# auth_http_client.sh: what ovp-auth-http's two-round pending design relies on in the real
# OpenVPN 2.6 client, checked without the plugin: the server's deferred
# auth-user-pass-verify script plays the plugin's part (round one: deferred, then
# AUTH_FAILED,TEMP[backoff 1] through the auth_failed_reason_file; round two: the
# auth_pending_file, then the control file). Checked:
#   - IV_SSO set with `setenv IV_SSO ...` reaches the server as peer info (no management
#     interface needed), and IV_GUI_VER likewise;
#   - after AUTH_FAILED,TEMP the client restarts by itself (SIGUSR1 auth-temp-failure,
#     "Restart pause, 1 second(s)" for backoff 1), also with auth-retry none, and comes back
#     with the same username and password from a new source port; a GUI-like management
#     client (management-query-passwords, management-hold) is not asked for the password
#     again, it sees ">PASSWORD:Verification Failed: 'Auth' ['TEMP...']" and a new >HOLD;
#   - round two's pending file reaches the client: without management as the log line
#     "Info command was pushed by server ('OPEN_URL:...')", on the management interface as
#     ">STATE:...,AUTH_PENDING,timeout N" and ">INFOMSG:OPEN_URL:<url>",
#     ">INFOMSG:WEB_AUTH::<url>" or ">INFOMSG:CR_TEXT:R:<text>";
#   - "cr-response <base64>" reaches the server's client-crresponse as the base64 text
#     itself (the plugin gets it in the env var crresponse and must decode it);
#   - a client without the method is refused by OpenVPN itself, with the reason
#     "Authentication failed, required pending auth method 'openurl' not supported".
. "$(dirname "$0")/lib.sh"
e2e_need_cmd python3 python3
e2e_init
e2e_pki alice bob carol dave
GUI="$top_srcdir/tests/e2e/auth_http_gui.py"
OUT="$E2E_DIR/out"
mkdir -m 777 "$OUT" # the scripts run as nobody
# the verify script plays the plugin and the service: it records the credentials it got
secret_skip 'out/verify.log' "the test's own verify script records the credentials it got"

cat > "$E2E_DIR/verify.sh" <<SH
#!/bin/sh
# via-file: \$1 holds the username and the password
u=\$(sed -n 1p "\$1"); p=\$(sed -n 2p "\$1")
echo "verify user=\$u pass=\$p iv_sso=\$IV_SSO iv_gui=\$IV_GUI_VER port=\$untrusted_port" >> "$OUT/verify.log"
if [ ! -f "$OUT/\$u.round1" ]; then
    touch "$OUT/\$u.round1"
    ( sleep 0.3
      printf 'TEMP[backoff 1]: sign-in required, reconnecting' > "\$auth_failed_reason_file"
      echo 0 > "\$auth_control_file" ) >/dev/null 2>&1 &
    exit 2
fi
case \$u in
sso*|nosso*) printf '60\nopenurl\nOPEN_URL:https://sso.example/%s\n' "\$u" > "\$auth_pending_file" ;;
web*) printf '60\nwebauth\nWEB_AUTH::https://sso.example/%s\n' "\$u" > "\$auth_pending_file" ;;
cr*) printf '60\ncrtext\nCR_TEXT:R:Enter your code\n' > "\$auth_pending_file"
     echo "\$auth_control_file" > "$OUT/cr.acf"
     exit 2 ;;
*) exit 1 ;;
esac
( t=300
  while [ ! -f "$OUT/\$u.signedin" ] && [ \$t -gt 0 ]; do sleep 0.1; t=\$((t - 1)); done
  echo 1 > "\$auth_control_file" ) >/dev/null 2>&1 &
exit 2
SH
cat > "$E2E_DIR/crresponse.sh" <<SH
#!/bin/sh
r=\$(cat "\$1")
echo "crresponse [\$r]" >> "$OUT/verify.log"
if [ "\$(printf '%s' "\$r" | base64 -d)" = 246810 ]; then v=1; else v=0; fi
echo \$v > "\$(cat "$OUT/cr.acf")"
SH
chmod 755 "$E2E_DIR/verify.sh" "$E2E_DIR/crresponse.sh"
e2e_server_conf "script-security 2
auth-user-pass-verify $E2E_DIR/verify.sh via-file
client-crresponse $E2E_DIR/crresponse.sh"
e2e_start_server

gui() { # gui NAME PORT ARGS...: the GUI-like management client for client NAME
    local name=$1 port=$2
    shift 2
    ip netns exec "$E2E_CLI" python3 "$GUI" "$port" "$E2E_DIR/$name.mgmt" "$@" &
    E2E_PIDS="$E2E_PIDS $!"
}
tries() { grep -c "^verify user=$1 pass=$2 " "$OUT/verify.log"; }

# 1. openurl, credentials from a file, no management interface, auth-retry none
e2e_client a alice sso-a Pass-A "setenv IV_SSO openurl"
e2e_wait_log a.log "Info command was pushed by server \('OPEN_URL:https://sso.example/sso-a'\)" 20 \
    || e2e_fail "the OPEN_URL of round two did not reach the client: $(grep -m1 -o 'AUTH_FAILED.*' "$E2E_DIR/a.log")"
grep -q "SIGUSR1\[soft,auth-temp-failure (server temporary reject)\] received, process restarting" \
    "$E2E_DIR/a.log" || e2e_soft_fail "no restart after TEMP"
grep -q "Restart pause, 1 second(s)" "$E2E_DIR/a.log" || e2e_soft_fail "TEMP[backoff 1] did not give a 1 s pause"
grep -q "AUTH_PENDING received" "$E2E_DIR/a.log" || e2e_soft_fail "no AUTH_PENDING in the client log"
[ "$(tries sso-a Pass-A)" = 2 ] || e2e_soft_fail "expected two tries with the same credentials: $(cat "$OUT/verify.log")"
grep -q "^verify user=sso-a .*iv_sso=openurl " "$OUT/verify.log" || e2e_soft_fail "IV_SSO did not reach the server"
touch "$OUT/sso-a.signedin"
e2e_wait_up a 20 || e2e_soft_fail "after sign-in the openurl client did not connect: $E2E_WHY"
e2e_stop a
e2e_log "ok: TEMP, restart after 1 s, same credentials, OPEN_URL in the client log, then connected"

# 2. a GUI: management-query-passwords, management-hold, auth-retry interact, webauth
e2e_client b bob "" "" "auth-user-pass
auth-retry interact
setenv IV_SSO webauth,crtext
setenv IV_GUI_VER ovp-e2e-gui
management 127.0.0.1 7505
management-query-passwords
management-hold"
gui b 7505 --user web-b --password Pass-B --urls "$E2E_DIR/b.urls"
e2e_wait_log b.mgmt "^>>> >INFOMSG:WEB_AUTH::https://sso.example/web-b$" 25 \
    || e2e_fail "no WEB_AUTH on the GUI's management interface"
[ "$(grep -c "^>>> >PASSWORD:Need 'Auth'" "$E2E_DIR/b.mgmt")" = 1 ] \
    || e2e_soft_fail "the GUI was asked for the password more than once"
grep -q "^>>> >PASSWORD:Verification Failed: 'Auth' \['TEMP\[backoff 1\]: sign-in required, reconnecting'\]" \
    "$E2E_DIR/b.mgmt" || e2e_soft_fail "the GUI did not see the TEMP as Verification Failed"
grep -q "^>>> >HOLD:Waiting for hold release:1" "$E2E_DIR/b.mgmt" \
    || e2e_soft_fail "no second hold after the TEMP restart"
grep -q "^>>> >STATE:[0-9]*,AUTH_PENDING,timeout 60," "$E2E_DIR/b.mgmt" \
    || e2e_soft_fail "no AUTH_PENDING state with the timeout"
[ "$(tries web-b Pass-B)" = 2 ] || e2e_soft_fail "the GUI client did not come back with the same credentials"
grep -q "^verify user=web-b .*iv_sso=webauth,crtext iv_gui=ovp-e2e-gui " "$OUT/verify.log" \
    || e2e_soft_fail "IV_SSO / IV_GUI_VER did not reach the server: $(grep web-b "$OUT/verify.log" | head -n 1)"
[ "$(cat "$E2E_DIR/b.urls" 2>/dev/null)" = https://sso.example/web-b ] || e2e_soft_fail "the GUI got no URL"
touch "$OUT/web-b.signedin"
e2e_wait_up b 20 || e2e_soft_fail "after sign-in the GUI client did not connect: $E2E_WHY"
e2e_stop b
e2e_log "ok: a GUI is not asked again after TEMP, sees Verification Failed and a new hold, then WEB_AUTH"

# 3. crtext answered through the management interface
e2e_client c carol cr-c Pass-C "setenv IV_SSO crtext
management 127.0.0.1 7506"
gui c 7506 --cr-answer 246810
e2e_wait_up c 30 || e2e_soft_fail "the crtext client did not connect: $E2E_WHY"
grep -q "^>>> >INFOMSG:CR_TEXT:R:Enter your code$" "$E2E_DIR/c.mgmt" || e2e_soft_fail "no CR_TEXT on management"
grep -q "^crresponse \[MjQ2ODEw\]$" "$OUT/verify.log" \
    || e2e_soft_fail "the server's client-crresponse did not get the base64 answer: $(grep crresponse "$OUT/verify.log")"
e2e_stop c
e2e_log "ok: CR_TEXT on management, cr-response reaches the server as base64"

# 4. a client without IV_SSO: OpenVPN refuses the pending file itself
e2e_client d dave nosso-d Pass-D ""
e2e_wait_up d 20 && e2e_fail "a client without IV_SSO connected"
case $E2E_WHY in
    "AUTH_FAILED,Authentication failed, required pending auth method 'openurl' not supported"*)
        e2e_log "ok: without IV_SSO OpenVPN says: $E2E_WHY" ;;
    *) e2e_soft_fail "a client without IV_SSO got: $E2E_WHY" ;;
esac
e2e_finish
e2e_log "ok: the real 2.6 client does what the two-round pending design needs"
