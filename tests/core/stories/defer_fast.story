# defer_fast.story: deferred auth answered through the control file, polled every ms.
# args: --plugin ${TEST_PLUGIN} mode=defer workers=2 delay_ms=50 "reason=wrong code"
# args:     record=${T}/rec -- --poll fast

client a user=alice pass=secret
expect a ok
expect call "AUTH_USER_PASS_VERIFY -> DEFERRED"
expect stat deferred 1

# a refusal: the reason file is written before the control file and reaches the client
client b user=alice pass=nope cn=bob
expect b fail "wrong code"
expect stat failed 1
# the engine's lines come from its workers; the host sees them at the next call, on its
# own thread (OpenVPN's log callback is not thread-safe)
expect log "[alice@127.0.0.1:1024] authentication succeeded"
