# reneg.story: a renegotiation re-runs TLS verification and auth with fresh files; with
# auth-gen-token external-auth the plugin sees session_state Authenticated.
# args: --plugin ${TEST_PLUGIN} mode=defer events=all record=${T}/rec
# args:     -- --poll fast --auth-gen-token external-auth

client a user=alice pass=secret
expect a ok
expect a push ",auth-token SESS_ID_AT_"
expect file ${T}/rec "session_state=Initial session_id="

mark
reneg a
expect a reneg-ok
expect call "TLS_VERIFY 0 CN=alice -> SUCCESS"
expect call "AUTH_USER_PASS_VERIFY -> DEFERRED"
expect file ${T}/rec "session_state=Authenticated session_id="
expect calls "CLIENT_CONNECT_V2" 0
expect stat renegotiated 1

# a renegotiation that fails authentication ends the session
mark
reneg a pass=wrong
expect a fail "authentication failed"
expect call "CLIENT_DISCONNECT -> SUCCESS"
