#!/bin/sh
# scrv1.sh: static-challenge passwords (SCRV1:<b64 password>:<b64 response>).
. "${srcdir:-.}/auth_pam/lib.sh"

b64() { printf '%s' "$1" | base64 -w0; }

# Without a mapping the decoded password goes to PAM; the response is unused.
printf 'alice:Scr-Secret-1:scrm\n' > "$WORK/passdb"
service scrm "auth required $MATRIX passdb=$WORK/passdb" "account required $MATRIX passdb=$WORK/passdb"
{
    tabs name=split username=alice "password=SCRV1:$(b64 Scr-Secret-1):$(b64 246810)" expect=allow
    tabs name=empty-response username=alice "password=SCRV1:$(b64 Scr-Secret-1):" expect=allow
    tabs name=wrong username=alice "password=SCRV1:$(b64 Scr-Wrong-2):$(b64 246810)" expect=deny
    tabs name=bad-b64 username=alice 'password=SCRV1:Scr*Secret:MTIz' expect=deny
} > "$WORK/c1"
LOG="$WORK/scr1.log"
run_driver "$LOG" "$WORK/c1" -- workers=1 scrm
expect_ok "SCRV1 with the default conversation"
grep -q 'SCRV1) password does not decode' "$LOG" || fail "no warning for malformed SCRV1"
no_secrets "$LOG" Scr-Secret-1 Scr-Wrong-2 246810 "$(b64 Scr-Secret-1)" 'Scr*Secret'

# A password that only looks like SCRV1 is used whole, as by the bundled plugin;
# a decoded part holding a NUL byte counts as malformed.
nul_b64=$(printf 'ab\000cd' | base64 -w0)
printf 'eve\tSCRV1:no*base64:x\t|\neve\tSCRV1:%s:%s\t|\neve\tNul-Secret-3\t|\n' \
    "$nul_b64" "$(b64 1)" > "$WORK/accept"
service scr2 "auth required $OVPTEST askon=User: ask=Password: ask=Code: accept=$WORK/accept" \
    "account required $OVPTEST"
# Code is answered with OTP then a literal '|': a lone '|' means an empty OTP.
{
    tabs name=lookalike username=eve 'password=SCRV1:no*base64:x' expect=allow
    tabs name=nul-inside username=eve "password=SCRV1:$nul_b64:$(b64 1)" expect=allow
    tabs name=no-scrv1-otp-empty username=eve password=Nul-Secret-3 expect=allow
} > "$WORK/c2"
LOG="$WORK/scr2.log"
run_driver "$LOG" "$WORK/c2" -- workers=1 scr2 user USERNAME password PASSWORD code 'OTP|'
expect_ok "malformed SCRV1 is used whole; OTP is empty without SCRV1"
no_secrets "$LOG" Nul-Secret-3 no*base64

finish
