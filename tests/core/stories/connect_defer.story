# connect_defer.story: CLIENT_CONNECT_V2 answers DEFERRED; the host polls DEFER_V2 until
# it answers with the return list.
# args: --plugin ${TEST_PLUGIN} connect_defer_ms=400 "ccfg=push \"route 10.30.0.0 255.255.0.0\""
# args:     events=AUTH_USER_PASS_VERIFY,CLIENT_CONNECT_V2,CLIENT_CONNECT_DEFER_V2
# args:     -- --poll fast

client a user=alice pass=secret
expect a line AUTH_OK
wait 200ms
expect a waiting
expect a ok
expect a push "route 10.30.0.0 255.255.0.0"
expect call "CLIENT_CONNECT_V2 -> DEFERRED"
expect call "CLIENT_CONNECT_DEFER_V2 -> DEFERRED"
expect call "CLIENT_CONNECT_DEFER_V2 -> SUCCESS"
