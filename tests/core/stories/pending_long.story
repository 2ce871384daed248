# pending_long.story: a pending text over 1 KiB (OpenVPN: lines read cut at 1023 bytes;
# an INFO_PRE over PUSH_BUNDLE_SIZE is not sent, and the deadline is not moved): the
# file's 1 s is ignored, the hand-window holds, the answer at 2.5 s connects.
# args: --plugin ${RECORD_PLUGIN} out=${T}/rec defer=AUTH_USER_PASS_VERIFY pending_len=1500
# args:     pending_timeout=1 answer_ms=2500 -- --poll fast --hand-window 10 --verb 3
client a user=alice pass=secret iv=IV_SSO=crtext
expect a line "AUTH_PENDING,timeout 1"
expect log "auth pending text of 1023 bytes does not fit in INFO_PRE"
expect a ok
expect stat timed_out 0
