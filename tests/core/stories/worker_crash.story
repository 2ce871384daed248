# worker_crash.story: a plugin whose worker process crashes before it answers: that client
# fails at the hand-window deadline, everyone else is served meanwhile, nothing hangs.
# args: --plugin ${TEST_PLUGIN} crash_user=mallory -- --poll fast --hand-window 2s

client m user=mallory pass=secret
client a user=alice pass=secret
expect a ok
expect m waiting
expect log "deferred to worker process"
wait 2500ms
expect m fail ""
expect stat timed_out 1
expect log "the deferred authentication did not finish in time"
client b user=alice pass=secret
expect b ok
