#!/bin/bash
# framework.sh: the plugin framework and defer engine inside a real OpenVPN 2.6 server
# (user nobody): deferred auth right/wrong password with the reason reaching the client,
# client-connect config pushed to the client, and a SIGHUP reopen without root.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_pki alice bob
PLUGIN=$(e2e_so "$top_builddir/tests/plugin/.libs/ovp-test-plugin.so")
[ -f "$PLUGIN" ] || e2e_fail "test plugin not built: $PLUGIN (make check builds it)"
e2e_sanitized "$PLUGIN"

# The quoted words exercise OpenVPN's own splitting of a plugin line. The test plugin's
# expected password is one of its words, which OpenVPN itself prints: the scan skips the
# config and OpenVPN's log (what the plugin logs is checked below).
secret_skip server.conf "the test plugin's expected password is on its plugin line"
secret_skip server.log "OpenVPN echoes the test plugin's line (its expected password) at verb 4 and above"
e2e_server_conf "plugin $PLUGIN user=alice password=Corr3ct-Horse mode=defer delay_ms=300 \"reason=wrong password, try again\" events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2 \"ccfg=push \\\"route 203.0.113.0 255.255.255.0\\\"\""
e2e_start_server

# 1. right password: tunnel up, the pushed route is on the client, a ping crosses.
e2e_client good alice alice Corr3ct-Horse
e2e_wait_log good.log "Initialization Sequence Completed" 20 || e2e_fail "alice did not connect"
ip -n "$E2E_CLI" route | grep -q "203.0.113.0/24" || e2e_fail "pushed route missing on the client"
ip netns exec "$E2E_CLI" ping -c 1 -W 2 198.51.100.1 >/dev/null || e2e_fail "no ping across the tunnel"
grep -q "authentication succeeded" "$E2E_DIR/server.log" || e2e_fail "no success line in the server log"
# (OpenVPN itself echoes the plugin line at verb 4; what the plugin logs must not.)
grep "PLUGIN ovp-test-plugin" "$E2E_DIR/server.log" | grep -q "Corr3ct-Horse" \
    && e2e_fail "the plugin logged the password"
e2e_log "ok: deferred auth succeeds, config pushed, ping crosses"

# 2. wrong password: the client sees AUTH_FAILED with our reason and gives up.
e2e_client bad bob alice nope
e2e_wait_log bad.log "AUTH_FAILED,wrong password, try again" 20 \
    || e2e_fail "the wrong password did not get AUTH_FAILED with the reason"
e2e_log "ok: wrong password gets AUTH_FAILED with the reason"

# 3. SIGHUP: plugins closed and reopened (now as nobody); clients authenticate again.
e2e_stop good
kill -HUP "$(cat "$E2E_DIR/server.pid")"
e2e_wait_log server.log "SIGHUP" 10 || e2e_fail "no SIGHUP seen"
sleep 1
e2e_client again alice alice Corr3ct-Horse
e2e_wait_log again.log "Initialization Sequence Completed" 20 \
    || e2e_fail "no authentication after SIGHUP"
[ "$(grep -c "PLUGIN_CLOSE" "$E2E_DIR/server.log")" -ge 1 ] || e2e_fail "plugin was not closed at SIGHUP"
e2e_log "ok: SIGHUP reopen, clients still authenticate"
