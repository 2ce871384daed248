# token_reconnect.story: a client that reconnects (a new session: OpenVPN's SIGUSR1
# restart) presents the auth-token it was pushed, not its password. Any instance checks
# the token's MAC, so it is accepted without a plugin call, and the old session is
# dropped (no duplicate-cn).
# args: --plugin ${TEST_PLUGIN} events=AUTH_USER_PASS_VERIFY,CLIENT_DISCONNECT
# args:     record=${T}/rec -- --poll fast --auth-gen-token
client a user=alice pass=secret
expect a ok
expect a push ",auth-token SESS_ID_AT_"
mark
roam a
expect a ok
expect calls "AUTH_USER_PASS_VERIFY" 0
expect log "TLS: Username/auth-token authentication succeeded for username 'alice'"
expect call "CLIENT_DISCONNECT -> SUCCESS"
