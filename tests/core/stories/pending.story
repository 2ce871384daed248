# pending.story: the auth_pending_file, read once right after DEFERRED.
# args: --plugin ${TEST_PLUGIN} mode=defer pending=yes delay_ms=300 pending_timeout=45
# args:     -- --poll fast

# a client that can answer a text challenge gets AUTH_PENDING and the text
client a user=alice pass=secret iv=IV_SSO=openurl,crtext
expect a line "AUTH_PENDING,timeout 45"
expect a pending "CR_TEXT:E,R:Enter your code"
expect a ok

# a client that cannot is refused at once with OpenVPN's reason
client b user=alice pass=secret cn=bob
expect b fail "Authentication failed, required pending auth method 'crtext' not supported"
expect log "Client does not supported auth pending method 'crtext'"

# a client without AUTH_PENDING_KW in IV_PROTO gets the bare keyword
client c user=alice pass=secret cn=carol iv=IV_SSO=crtext iv=IV_PROTO=2
expect c line AUTH_PENDING
expect c ok
