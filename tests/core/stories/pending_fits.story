# pending_fits.story: the longest pending text that fits (1013 bytes: INFO_PRE, the text
# and its NUL make 1024) is sent, and its 1 s deadline holds: the answer at 2.5 s is late.
# args: --plugin ${RECORD_PLUGIN} out=${T}/rec defer=AUTH_USER_PASS_VERIFY pending_len=1013
# args:     pending_timeout=1 answer_ms=2500 -- --poll fast --hand-window 10 --verb 3
client a user=alice pass=secret iv=IV_SSO=crtext
expect a pending "CR_TEXT:E,R:ppp"
expect a fail
expect stat timed_out 1
expect no-log "does not fit in INFO_PRE"
