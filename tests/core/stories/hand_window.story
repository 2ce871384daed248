# hand_window.story: a plugin that defers and never answers: the key fails at the
# hand-window deadline and the client gets AUTH_FAILED.
# args: --plugin ${TEST_PLUGIN} hang=yes -- --poll fast --hand-window 2s

client a user=alice pass=secret
wait 1500ms
expect a waiting
expect a fail ""
expect stat timed_out 1
expect log "the deferred authentication did not finish in time"
