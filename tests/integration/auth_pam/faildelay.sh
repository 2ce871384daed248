#!/bin/sh
# faildelay.sh: PAM's delay after a failure (pam_fail_delay; pam_unix asks for 2 s)
# holds the refusal, never a worker: with workers=1 another client is served while
# the first refusal waits, and the refusal comes no earlier than the delay.
. "${srcdir:-.}/auth_pam/lib.sh"

printf 'alice\tAlice-Secret-1\nbob\tBob-Secret-2\n' > "$WORK/accept"
service fd "auth required $OVPTEST faildelay=2000 accept=$WORK/accept" "account required $OVPTEST"

{
    tabs name=wrong username=alice password=Wrong-Secret-3 expect=deny min_ms=1000 max_ms=4000
    tabs name=served at=150 username=bob password=Bob-Secret-2 expect=allow max_ms=800
} > "$WORK/c1"
LOG="$WORK/c1.log"
run_driver "$LOG" "$WORK/c1" -- workers=1 fd
expect_ok "a fail delay holds the answer, not the worker"
ms=$(sed -n 's/.*refusal held for \([0-9]*\) ms (PAM fail delay).*/\1/p' "$LOG" | head -n 1)
[ -n "$ms" ] || fail "the held refusal is not logged"
got=$(awk '/wrong/ { for (i = 1; i <= NF; i++) if ($i ~ /^ms=/) { sub("ms=", "", $i); print $i } }' "$WORK/out" | head -n 1)
# 10 ms of slack: the driver dates an answer by the control file's mtime, which the
# kernel takes from its coarse clock (a tick, up to 4 ms, behind), and the logged delay
# is PAM's rounded up to whole milliseconds (seen: 1469 against 1472).
[ -n "$ms" ] && [ -n "$got" ] && [ "$got" -lt $((ms - 10)) ] &&
    fail "the refusal came after $got ms, before the $ms ms delay"
no_secrets "$LOG" Wrong-Secret-3 Bob-Secret-2

# A right password is not delayed.
tabs name=right username=alice password=Alice-Secret-1 expect=allow max_ms=800 > "$WORK/c2"
LOG="$WORK/c2.log"
run_driver "$LOG" "$WORK/c2" -- workers=1 fd
expect_ok "no delay after a success"

finish
