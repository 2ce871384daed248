#!/bin/bash
# auth_inline.sh: the inline wait with a real OpenVPN 2.6 server (user nobody, no async
# push): ovp-auth-http with InlineWait 10ms against the fixture service on the server
# namespace's loopback. An allowed client is answered within the auth call (OpenVPN logs
# "succeeded", not "deferred") and connects in well under OpenVPN's one-second poll; a
# refused one gets the service's reason, which OpenVPN read from the reason file after the
# synchronous ERROR; a TEMP answered inline makes the client retry by itself; an answer
# slower than the wait is deferred as before. No password in the log.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/http_service.sh"
http_available || e2e_skip_or_fail "python3 missing (apt-get install python3)"
e2e_init
e2e_pki alice bob carol dave
PLUGIN=$(e2e_so "$top_builddir/auth-http/.libs/ovp-auth-http.so")
e2e_sanitized "$PLUGIN"

HTTP_WRAP="ip netns exec $E2E_SRV"
H="$E2E_DIR/http"
http_start "$H" '{"default": {"action": "deny"},
 "users": {
  "alice": {"action": "allow"},
  "bob": {"action": "deny", "status": 403, "reason": "account locked"},
  "carol": {"action": "allow"},
  "dave": {"action": "allow", "delay_ms": 300}
 },
 "rules": [{"username": "carol", "times": 1, "action": {"action": "status", "status": 503}}]}' \
    || e2e_fail "the fixture service did not start in the server namespace"
trap 'http_stop "$H"; e2e_cleanup' EXIT
printf '<HTTP>\n    URL %s\n    Timeout 3s\n    Retries 0\n    InlineWait 10ms\n</HTTP>\n' \
    "$HTTP_URL" > "$E2E_DIR/auth-http.conf"
chmod 644 "$E2E_DIR/auth-http.conf"
e2e_server_conf "plugin $PLUGIN $E2E_DIR/auth-http.conf"
e2e_start_server
SLOG="$E2E_DIR/server.log"

# 1. allowed within the call: OpenVPN says "succeeded" at once, never "deferred"
t0=$(date +%s%N)
e2e_client c1 alice alice Alice-Pass-1
e2e_wait_connect c1 20 || e2e_fail "alice was not allowed: $E2E_WHY"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "Username/Password authentication succeeded for username 'alice'" "$SLOG" \
    || e2e_fail "alice's authentication was not answered within the call"
grep -q "authentication deferred for username 'alice'" "$SLOG" \
    && e2e_fail "alice's authentication was deferred"
e2e_log "ok: alice answered within the auth call, connected in $ms ms"
e2e_stop c1

# 2. refused within the call: the client gets the service's reason (the reason file,
#    read by OpenVPN after a synchronous ERROR)
e2e_client c2 bob bob Bob-Pass-2
e2e_wait_connect c2 20 && e2e_fail "bob was allowed"
case $E2E_WHY in
    "AUTH_FAILED,account locked"*) e2e_log "ok: bob refused inline with the service's reason" ;;
    *) e2e_fail "bob: expected AUTH_FAILED,account locked; got: $E2E_WHY" ;;
esac
grep -q "authentication deferred for username 'bob'" "$SLOG" \
    && e2e_fail "bob's authentication was deferred"
e2e_stop c2

# 3. TEMP within the call (the service's 503, once): the client retries by itself and
#    connects
e2e_client c3 carol carol Carol-Pass-3 "connect-retry-max 10
connect-retry 1"
e2e_wait_log c3.log "AUTH_FAILED,TEMP" 20 || e2e_fail "carol got no TEMP: $(tail -n 3 "$E2E_DIR/c3.log" | tr '\n' '|')"
e2e_wait_log c3.log "Initialization Sequence Completed" 30 \
    || e2e_fail "carol did not connect after the TEMP: $(tail -n 3 "$E2E_DIR/c3.log" | tr '\n' '|')"
e2e_log "ok: carol got TEMP inline, retried and connected"
e2e_stop c3

# 4. slower than the wait: deferred as before, and still connected
e2e_client c4 dave dave Dave-Pass-4
e2e_wait_connect c4 20 || e2e_fail "dave was not allowed: $E2E_WHY"
grep -q "authentication deferred for username 'dave'" "$SLOG" \
    || e2e_fail "dave's slow answer was not deferred"
e2e_log "ok: dave's answer (300 ms) was deferred and he connected"
e2e_stop c4

e2e_stop server
for p in Alice-Pass-1 Bob-Pass-2 Carol-Pass-3 Dave-Pass-4; do
    grep -F -q "$p" "$SLOG" && e2e_fail "a password is in the server's log"
done
e2e_finish
