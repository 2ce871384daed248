# token_reconnect_external.story: with auth-gen-token external-auth the reconnect's token
# goes to the plugin, with session_state=Authenticated and the first session's id.
# args: --plugin ${TEST_PLUGIN} events=AUTH_USER_PASS_VERIFY record=${T}/rec
# args:     -- --poll fast --auth-gen-token external-auth
client a user=alice pass=secret
expect a ok
expect file ${T}/rec "session_state=Initial session_id="
mark
roam a
expect a ok
expect calls "AUTH_USER_PASS_VERIFY" 1
expect file ${T}/rec "session_state=Authenticated session_id="
