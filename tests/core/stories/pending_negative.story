# pending_negative.story: a negative pending timeout is OpenVPN's unsigned int, huge: the
# deadline is the whole window (max(hand-window, reneg-sec/2), as OpenVPN caps it), not
# "expired at once".
# args: --plugin ${RECORD_PLUGIN} out=${T}/rec defer=AUTH_USER_PASS_VERIFY pending_len=40
# args:     pending_timeout=-1 answer_ms=1500 -- --poll fast --hand-window 10
client a user=alice pass=secret iv=IV_SSO=crtext
expect a line "AUTH_PENDING,timeout 1"
expect a ok
