# multi_plugins.story: several plugins are called in configuration order, every one of
# them even after another failed; their return lists add up.
# args: --plugin ${TEST_PLUGIN} name=A events=all record=${T}/rec
# args:     "ccfg=push \"route 10.10.0.0 255.255.0.0\""
# args: --plugin ${TEST_PLUGIN} name=B events=all record=${T}/rec
# args:     "ccfg=push \"route 10.11.0.0 255.255.0.0\"" -- --poll fast

expect file-order ${T}/rec "A:OPEN" "B:OPEN"
expect file-order ${T}/rec "A:UP" "B:UP"
client a user=alice pass=secret
expect a ok
expect a push "route 10.10.0.0 255.255.0.0,route 10.11.0.0 255.255.0.0"
expect file-order ${T}/rec "A:AUTH_USER_PASS_VERIFY" "B:AUTH_USER_PASS_VERIFY"
expect file-order ${T}/rec "B:AUTH_USER_PASS_VERIFY" "A:TLS_FINAL"

# A refuses, and B is still asked; the answer is the aggregate: ERROR
mark
client b user=alice pass=wrong cn=bob
expect b fail
expect call "AUTH_USER_PASS_VERIFY -> ERROR [plugin 0"
expect call "AUTH_USER_PASS_VERIFY -> ERROR [plugin 1"
