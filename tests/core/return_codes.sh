#!/bin/sh
# return_codes.sh: how the core handles each return code of each event, one small story
# per plugin configuration (the stories are written here, next to their arguments).
set -u
: "${REFCORE:?}" "${TEST_PLUGIN:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/ovp-rc.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT INT TERM
export T
failures=0
n=0

# case NAME PLUGIN-ARGS... -- CORE-OPTIONS... <<STORY
case_() {
    name=$1
    shift
    n=$((n + 1))
    cat > "$T/$n.story"
    rm -f "$T/rec"
    "$REFCORE" "$@" --poll fast --scenario "$T/$n.story" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -ne 0 ] || grep -q Sanitizer "$T/err"; then
        echo "FAIL: $name (exit $rc)"; grep -v "peer info" "$T/err" | tail -n 12
        failures=$((failures + 1))
    else
        echo "ok: $name"
    fi
}
P=$TEST_PLUGIN

case_ "TLS_VERIFY ERROR: the handshake fails, auth is never asked" \
    --plugin "$P" events=TLS_VERIFY,AUTH_USER_PASS_VERIFY fail_on=TLS_VERIFY -- <<'S'
client a user=alice pass=secret
expect a tls-error
expect calls "TLS_VERIFY 1 CN=ovp-refcore CA -> ERROR" 1
expect no-call "AUTH_USER_PASS_VERIFY"
S

case_ "AUTH ERROR with a reason file: AUTH_FAILED,<text>" \
    --plugin "$P" fail_on=AUTH_USER_PASS_VERIFY "reason=account locked" -- <<'S'
client a user=alice pass=secret
expect a fail "account locked"
S

case_ "TEMP, answered in the call" --plugin "$P" temp=yes -- <<'S'
client a user=alice pass=secret
expect a fail "TEMP: test backend unavailable"
S

case_ "TEMP, answered by a worker" --plugin "$P" temp=yes mode=defer \
    "reason=TEMP[backoff 30]: directory unreachable" -- <<'S'
client a user=alice pass=secret
expect a fail "TEMP[backoff 30]: directory unreachable"
S

case_ "TLS_FINAL ERROR vetoes a good password" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,TLS_FINAL fail_on=TLS_FINAL -- <<'S'
client a user=alice pass=secret
expect a fail ""
expect call "AUTH_USER_PASS_VERIFY -> SUCCESS"
expect call "TLS_FINAL -> ERROR"
S

case_ "TLS_FINAL ERROR vetoes a deferred auth too" --plugin "$P" mode=defer delay_ms=200 \
    events=AUTH_USER_PASS_VERIFY,TLS_FINAL fail_on=TLS_FINAL -- <<'S'
client a user=alice pass=secret
expect a fail
expect call "AUTH_USER_PASS_VERIFY -> DEFERRED"
S

# OpenVPN 2.6's internal first handler (compression migration) always succeeds, so even
# the first plugin's refusal is followed by CLIENT_DISCONNECT (multi.c).
case_ "CLIENT_CONNECT_V2 ERROR: refused, then the disconnect" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2,CLIENT_DISCONNECT \
    fail_on=CLIENT_CONNECT_V2 -- <<'S'
client a user=alice pass=secret
expect a line AUTH_OK
expect a fail ""
expect call "CLIENT_DISCONNECT -> SUCCESS"
S

case_ "v1 connect succeeded, v2 failed: the disconnect runs" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT,CLIENT_DISCONNECT \
    --plugin "$P" events=CLIENT_CONNECT_V2 fail_on=CLIENT_CONNECT_V2 -- <<'S'
client a user=alice pass=secret
expect a fail
expect call "CLIENT_DISCONNECT -> SUCCESS"
S

case_ "v1 CLIENT_CONNECT writes its config file" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT \
    "ccfg=push \"route 10.40.0.0 255.255.0.0\"" "ccfg=ifconfig-push 10.8.9.9 255.255.0.0" -- <<'S'
client a user=alice pass=secret
expect a ok
expect a push "route 10.40.0.0 255.255.0.0"
expect a addr 10.8.9.9
S

case_ "a deferred CLIENT_CONNECT_V2 without DEFER_V2 in the mask is refused" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2 connect_defer_ms=100 -- <<'S'
client a user=alice pass=secret
expect a fail
expect log "must also declare support for OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2"
S

case_ "'disable' in the client config refuses the client" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2 ccfg=disable -- <<'S'
client a user=alice pass=secret
expect a fail
expect log "MULTI: client has been rejected due to 'disable' directive"
S

case_ "a directive the context does not allow is logged and ignored" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2 "ccfg=dev tap0" -- <<'S'
client a user=alice pass=secret
expect a ok
expect log "Options error: option 'dev' cannot be used in this context"
S

case_ "LEARN_ADDRESS ERROR: connected, but the route is not learned" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,LEARN_ADDRESS fail_on=LEARN_ADDRESS -- \
    --no-ipv6 <<'S'
client a user=alice pass=secret
expect a ok
expect log "WARNING: learn-address plugin call failed"
expect stat routes 0
S

case_ "CLIENT_DISCONNECT ERROR is only a warning" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,CLIENT_DISCONNECT fail_on=CLIENT_DISCONNECT -- <<'S'
client a user=alice pass=secret
expect a ok
bye a
expect log "WARNING: client-disconnect plugin call failed"
S

case_ "ROUTE_UP ERROR is only a warning" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,ROUTE_UP fail_on=ROUTE_UP -- <<'S'
expect log "WARNING: route-up plugin call failed"
client a user=alice pass=secret
expect a ok
S

case_ "no auth plugin: the certificate is enough" \
    --plugin "$P" events=LEARN_ADDRESS -- <<'S'
client a user= pass= cn=alice
expect a ok
S

# (two words: OpenVPN re-splits a lone plugin argument, quotes and all)
case_ "special characters in a password reach the plugin intact" \
    --plugin "$P" user=alice "password=p*()\\\"';,=+<>#%w" -- <<'S'
client a user=alice "pass=p*()\\\"';,=+<>#%w"
expect a ok
client b user=alice "pass=p*()\\\"';,=+<>#%x" cn=bob
expect b fail
S

case_ "CLIENT_CRRESPONSE carries the response, base64, and the control file" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,CLIENT_CRRESPONSE hang=yes record=${T}/rec -- \
    <<'S'
client a user=alice pass=secret iv=IV_SSO=crtext
expect a waiting
crresponse a MTIzNDU2
expect file ${T}/rec "CLIENT_CRRESPONSE argv=[]"
expect file ${T}/rec "crresponse=MTIzNDU2 password=absent files=acf"
S

case_ "auth-gen-token: a renegotiation with the token skips the plugins" \
    --plugin "$P" events=AUTH_USER_PASS_VERIFY,TLS_VERIFY -- --auth-gen-token <<'S'
client a user=alice pass=secret
expect a push "auth-token SESS_ID_AT_"
mark
reneg a
expect a reneg-ok
expect call "TLS_VERIFY 0 CN=alice -> SUCCESS"
expect calls "AUTH_USER_PASS_VERIFY" 0
expect log "TLS: Username/auth-token authentication succeeded for username 'alice'"
mark
reneg a pass=SESS_ID_AT_forged
expect a fail
expect log "TLS: Username/auth-token authentication failed for username 'alice'"
S

# --setenv-file: a value no command line can carry (200 KiB), blanks kept, the final
# newline dropped (the record turns blanks into '_'; its line stops at 4 KiB)
{ printf 'two words '; head -c 204800 /dev/zero | tr '\0' 'v'; printf '\n'; } > "$T/big"
case_ "--setenv-file: a 200 KiB value from a file reaches the plugin" \
    --plugin "$P" events=UP record=${T}/rec -- --setenv-file config "$T/big" <<'S'
expect file ${T}/rec "UP argv=[tun0,1500,0,10.8.0.1,255.255.0.0,init]"
expect file ${T}/rec "config=two_words_vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
S
if "$REFCORE" --plugin "$P" -- --setenv-file config "$T/none" --try </dev/null \
    >"$T/out" 2>&1; then
    echo "FAIL: --setenv-file with a missing file was accepted"; failures=$((failures + 1))
elif ! grep -q "setenv-file config: cannot open $T/none" "$T/out"; then
    echo "FAIL: --setenv-file with a missing file: no clear message"; cat "$T/out"
    failures=$((failures + 1))
else
    echo "ok: --setenv-file with a missing file is a usage error"
fi

# a lone plugin argument is split into words as OpenVPN's config parser does
case_ "a lone plugin argument is split like OpenVPN's (quotes group words)" \
    --plugin "$P" "events=UP 'record=${T}/split rec'" -- <<'S'
expect file "${T}/split rec" "UP argv=[tun0,1500,0,10.8.0.1,255.255.0.0,init]"
S

[ $failures -eq 0 ]
