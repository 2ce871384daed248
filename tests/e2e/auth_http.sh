#!/bin/bash
# auth_http.sh: ovp-auth-http in a real OpenVPN 2.6 server (user nobody) against the
# scripted fixture service (tests/fixtures/http_service.py) on the server namespace's
# loopback, over HTTPS with a test CA, every request signed (HMACSecretFile) and carrying a
# bearer token (BearerTokenFile), both 0600 root: an allowed client gets the route the
# service pushed (client_config) and pings across the tunnel; a denied one sees the
# service's reason; an odd username (quotes, comma, backslash, UTF-8) arrives intact; a
# service outage (503, then the service gone) gives TEMP and the client retries by itself
# until the service is back; a SIGHUP reload as nobody keeps
# authentication (and the signatures) working; a second SIGHUP takes up
# "Hooks auth client-connect" and the client-connect answer's route is pushed. No password,
# token or key in the log.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/http_service.sh"
http_available || e2e_skip_or_fail "python3 or openssl missing (apt-get install python3 openssl)"
e2e_init
e2e_pki alice bob carol dave
PLUGIN=$(e2e_so "$top_builddir/auth-http/.libs/ovp-auth-http.so")
e2e_sanitized "$PLUGIN"

# The service runs in the server's namespace: the plugin reaches it on that loopback.
HTTP_WRAP="ip netns exec $E2E_SRV"
H="$E2E_DIR/http"
http_pki "$H" || e2e_fail "http_pki failed"
chmod -R a+rX "$H"
printf 'e2e-hmac-key-7\n' > "$E2E_DIR/hmac.key"
printf 'e2e-bearer-token-7\n' > "$E2E_DIR/token"
chmod 600 "$E2E_DIR/hmac.key" "$E2E_DIR/token"
cat > "$H/script.json" <<'JSON'
{
  "default": {"action": "deny", "reason": "unknown user"},
  "users": {
    "alice": {"action": "allow", "reason": "welcome alice",
              "client_config": ["push \"route 10.77.0.0 255.255.0.0\""]},
    "bob": {"action": "deny", "status": 403, "reason": "account locked until Monday"},
    "carol": {"action": "allow"},
    "o'brien \"q\", j\u00fcrgen\\x \u2603": {"action": "allow", "reason": "odd but known"}
  },
  "rules": [
    {"hook": "client-connect", "username": "alice",
     "action": {"action": "allow", "client_config": ["push \"route 10.79.0.0 255.255.0.0\""]}},
    {"hook": "client-connect", "action": {"action": "deny", "reason": "not now"}}
  ]
}
JSON
http_start "$H" "$H/script.json" --tls "$H/pki/server.pem" "$H/pki/server.key" \
    --hmac-key-file "$E2E_DIR/hmac.key" --bearer-token-file "$E2E_DIR/token" \
    || e2e_fail "the fixture service did not start in the server namespace"
trap 'http_stop "$H"; e2e_cleanup' EXIT
e2e_log "fixture service at $HTTP_URL (server namespace)"

cat > "$E2E_DIR/auth-http.conf" <<CONF
# ovp-auth-http for the e2e scenario auth_http.sh
<HTTP>
    URL             $HTTP_URL
    CACertFile      $H/pki/ca.pem
    HMACSecretFile  $E2E_DIR/hmac.key
    BearerTokenFile $E2E_DIR/token
    ConnectTimeout  2
    Timeout         3
    Retries         0
</HTTP>
CONF
chmod 644 "$E2E_DIR/auth-http.conf"
e2e_server_conf "plugin $PLUGIN $E2E_DIR/auth-http.conf"
e2e_start_server

# user_requests USER: requests the service got for USER
user_requests() { http_log_count "$H" "e.get('username') == '$1'"; }

# 1. allowed: tunnel up, the pushed route from client_config in the client, a ping across
e2e_client c1 alice alice Alice-Pass-1
e2e_wait_up c1 20 || e2e_fail "alice was not allowed: $E2E_WHY"
ip -n "$E2E_CLI" route show 10.77.0.0/16 | grep -q "dev tun" \
    || e2e_soft_fail "the route from client_config is not in the client: $(ip -n "$E2E_CLI" route | tr '\n' '|')"
ip netns exec "$E2E_CLI" ping -c 1 -W 2 198.51.100.1 >/dev/null \
    || e2e_soft_fail "no ping across alice's tunnel"
e2e_log "ok: alice connected, route 10.77.0.0/16 pushed from the service's client_config"
n=$(http_log_query "$H" '"%s %s %s %s %s %s %s" % (e.get("hook"), e["tls"], e["hmac"], e["bearer"], e["body"].get("password"), e["body"].get("common_name"), e["body"].get("untrusted_ip"))' \
    "e.get('username') == 'alice'" | head -n 1)
[ "$n" = "auth True ok ok Alice-Pass-1 alice 192.0.2.2" ] \
    || e2e_soft_fail "alice's request as the service saw it (hook tls hmac bearer password cn ip): $n"
ct=$(http_log_field "$H" 1 headers.content-type)
[ "$ct" = application/json ] || e2e_soft_fail "Content-Type was '$ct'"
e2e_stop c1

# 1b. an odd username (quotes, a comma, a backslash, UTF-8) arrives intact and is allowed
ODD="o'brien \"q\", jürgen\\x ☃"
e2e_client c1b alice "$ODD" Odd-Pass-1
e2e_wait_up c1b 20 || e2e_soft_fail "the odd username was not allowed: $E2E_WHY"
e2e_stop c1b
got=$(http_log_query "$H" 'e["body"].get("username")' "e['body'].get('password') == 'Odd-Pass-1'" | head -n 1)
[ "$got" = "$ODD" ] || e2e_soft_fail "the odd username arrived as '$got', sent '$ODD'"
[ "$got" = "$ODD" ] && e2e_log "ok: the username $ODD arrived intact"

# 2. denied with the service's reason
e2e_client c2 bob bob Bob-Pass-2
e2e_wait_up c2 20 && e2e_fail "bob was allowed"
case $E2E_WHY in
    "AUTH_FAILED,account locked until Monday"*) e2e_log "ok: bob denied with the service's reason" ;;
    *) e2e_soft_fail "bob: expected AUTH_FAILED,account locked until Monday; got: $E2E_WHY" ;;
esac
e2e_stop c2

# 3. outage: the service answers 503; the client is told TEMP and retries by itself; when
#    the service is back, the same client process connects.
http_override "$H" '{"action": "status", "status": 503, "body": {"reason": "maintenance"}}'
e2e_client c3 carol carol Carol-Pass-3 "connect-retry-max 10
connect-retry 1 1"
e2e_wait_log c3.log "AUTH_FAILED,TEMP" 20 || e2e_fail "a 503 did not give TEMP: $(grep -m1 -o 'AUTH_FAILED.*' "$E2E_DIR/c3.log")"
e2e_log "ok: 503 gives $(grep -m1 -o 'AUTH_FAILED.*' "$E2E_DIR/c3.log")"
e2e_wait_log c3.log "auth-temp-failure" 5 || e2e_soft_fail "the client did not restart after TEMP"
# it retries: a second request reaches the service while it is still down
t=100
while [ "$(user_requests carol)" -lt 2 ] && [ $t -gt 0 ]; do sleep 0.1; t=$((t - 1)); done
[ "$(user_requests carol)" -ge 2 ] || e2e_soft_fail "the client did not retry after TEMP"
http_override "$H" null
if e2e_wait_up c3 30; then
    e2e_log "ok: after $(user_requests carol) tries, the client connected once the service was back"
else
    e2e_soft_fail "after the outage the client did not connect: $E2E_WHY"
fi
grep -q "PLUGIN ovp-auth-http.*HTTP 503" "$E2E_DIR/server.log" \
    || e2e_soft_fail "no log line saying the service answered 503"
e2e_stop c3

# 4. SIGHUP: the plugin is reopened as nobody; the HMAC key and the token (0600 root) are
#    kept from the first read, so signed requests still pass.
e2e_sighup
grep -q "PLUGIN ovp-auth-http.*hmac.key" "$E2E_DIR/server.log" \
    || e2e_soft_fail "no line saying the HMAC key file (0600 root) is kept from the first read"
n0=$(http_log_count "$H")
e2e_client c4 alice alice Alice-Pass-1
if e2e_wait_up c4 20; then
    e2e_log "ok: after the SIGHUP as nobody alice connects"
else
    e2e_soft_fail "after the SIGHUP alice did not connect: $E2E_WHY"
fi
e2e_stop c4
[ "$(http_log_count "$H" "e['seq'] > $n0 and e['hmac'] == 'ok' and e['bearer'] == 'ok'")" -ge 1 ] \
    || e2e_soft_fail "after the SIGHUP no correctly signed request reached the service: $(http_log_query "$H" '"%s hmac=%s bearer=%s" % (e.get("username"), e["hmac"], e["bearer"])' "e['seq'] > $n0" | tr '\n' '|')"
e2e_client c5 bob bob Bob-Pass-2
e2e_wait_up c5 20 && e2e_soft_fail "after the SIGHUP bob was allowed"
case $E2E_WHY in
    "AUTH_FAILED,account locked until Monday"*) e2e_log "ok: after the SIGHUP bob is still denied with the reason" ;;
    *) e2e_soft_fail "after the SIGHUP bob got: $E2E_WHY" ;;
esac
e2e_stop c5

# 5. Hooks auth client-connect, taken up by a SIGHUP (the config is read again, as nobody):
#    CLIENT_CONNECT asks the service too (no password), and its client_config is applied.
sed -i 's/^    Retries         0$/    Retries         0\n    Hooks           auth client-connect/' "$E2E_DIR/auth-http.conf"
grep -q "Hooks" "$E2E_DIR/auth-http.conf" || e2e_fail "could not add Hooks to the config"
e2e_sighup
n0=$(http_log_count "$H")
e2e_client c7 alice alice Alice-Pass-1
if e2e_wait_up c7 20; then
    ip -n "$E2E_CLI" route show 10.79.0.0/16 | grep -q "dev tun" \
        || e2e_soft_fail "the route from the client-connect answer is not in the client"
    e2e_log "ok: with Hooks auth client-connect the client-connect answer's route is pushed"
else
    e2e_soft_fail "with Hooks auth client-connect alice did not connect: $E2E_WHY"
fi
e2e_stop c7
cc=$(http_log_query "$H" '"%s %s %s" % (e["body"].get("username"), e["body"].get("common_name"), "password" in e["body"])' \
    "e['seq'] > $n0 and e.get('hook') == 'client-connect'" | head -n 1)
[ "$cc" = "alice alice False" ] \
    || e2e_soft_fail "the client-connect request (username common_name has-password): '$cc'"

# 6. the service gone (connection refused): TEMP
http_stop "$H"
e2e_client c6 dave alice Alice-Pass-1
e2e_wait_log c6.log "AUTH_FAILED" 20 || e2e_soft_fail "no answer with the service gone"
case $(grep -m1 -o "AUTH_FAILED.*" "$E2E_DIR/c6.log") in
    "AUTH_FAILED,TEMP"*) e2e_log "ok: the service gone gives $(grep -m1 -o 'AUTH_FAILED.*' "$E2E_DIR/c6.log")" ;;
    *) e2e_soft_fail "the service gone gave: $(grep -m1 -o 'AUTH_FAILED.*' "$E2E_DIR/c6.log")" ;;
esac
e2e_stop c6

grep "ovp-auth-http" "$E2E_DIR/server.log" \
    | grep -q -e Alice-Pass-1 -e Bob-Pass-2 -e Carol-Pass-3 -e Odd-Pass-1 -e e2e-hmac-key-7 -e e2e-bearer-token-7 \
    && e2e_soft_fail "a password, the token or the HMAC key reached the log"
grep -q -e e2e-bearer-token-7 "$H/requests.jsonl" && e2e_soft_fail "the fixture logged the token"
e2e_finish
e2e_log "ok: ovp-auth-http in a real OpenVPN: allow with client_config, deny with reason, TEMP and retry, SIGHUP as nobody"
