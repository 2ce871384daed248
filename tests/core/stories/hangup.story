# hangup.story: a client that hangs up while its auth is deferred: the instance and its
# files go away; the late answer harms nobody; no disconnect for a session never connected.
# args: --plugin ${TEST_PLUGIN} mode=defer delay_ms=500 events=all record=${T}/rec
# args:     -- --poll fast

client a user=alice pass=secret
expect call "AUTH_USER_PASS_VERIFY -> DEFERRED"
hangup a
expect stat hung_up 1
expect stat clients 0
wait 800ms
expect no-file ${T}/rec "CLIENT_DISCONNECT"
client b user=alice pass=secret cn=bob
expect b ok
