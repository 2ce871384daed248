#!/bin/sh
# faults.sh: a crashing PAM module, the helper killed mid-request, close with
# requests in flight. Nothing may hang until hand-window; every failure is TEMP.
. "${srcdir:-.}/auth_pam/lib.sh"

printf 'crash\tCrash-Secret-1\nfine\tFine-Secret-2\nslow\tSlow-Secret-3\n' > "$WORK/accept"
service faulty "auth required $OVPTEST crashfor=crash sleep=2000 sleepfor=slow accept=$WORK/accept" \
    "account required $OVPTEST"

# 1. A module crashes in one transaction: that client gets TEMP, the others are
#    served, and the helper lives on.
{
    tabs name=crash username=crash password=Crash-Secret-1 expect=temp max_ms=2000
    tabs name=fine-before username=fine password=Fine-Secret-2 expect=allow
    tabs name=fine-after at=300 username=fine password=Fine-Secret-2 expect=allow
} > "$WORK/c1"
LOG="$WORK/c1.log"
run_driver "$LOG" "$WORK/c1" -- workers=1 faulty
expect_ok "a crashing module fails one request with TEMP"
grep -q 'crashed (signal 11)' "$LOG" || fail "the crash is not logged"
no_secrets "$LOG" Crash-Secret-1 Fine-Secret-2

# 2. The helper is killed while a 2-second transaction runs: that request is
#    answered TEMP at once, later ones fail fast with TEMP, and the log says why.
{
    tabs name=in-flight username=slow password=Slow-Secret-3 expect=temp max_ms=1500 \
        "reason=PAM helper is gone"
    tabs name=later at=1000 username=fine password=Fine-Secret-2 expect=temp max_ms=50 \
        "reason=PAM helper is gone"
} > "$WORK/c2"
LOG="$WORK/c2.log"
run_driver "$LOG" "$WORK/c2" --kill-helper-at 400 -- workers=1 faulty
expect_ok "helper killed mid-request"
grep -q 'the PAM helper (pid [0-9]*) is gone' "$LOG" || fail "helper death not logged"

# 3. OpenVPN closes the plugin (SIGHUP, exit) with three transactions running:
#    each is answered TEMP, close returns quickly and the helper is gone.
{
    for i in 1 2 3; do
        tabs name=inflight$i username=slow password=Slow-Secret-3 expect=temp \
            "reason=server is reloading"
    done
} > "$WORK/c3"
LOG="$WORK/c3.log"
run_driver "$LOG" "$WORK/c3" --close-at 300 -- workers=3 faulty
expect_ok "close with requests in flight"
ms=$(sed -n 's/^close_ms=//p' "$WORK/out")
[ "${ms:-99999}" -lt 2500 ] || fail "close took ${ms} ms"
# the parked helper ended and reaped the PAM processes of the closed plugin before it
# confirmed the close: no zombie is left, and none of them can still reply to the
# plugin that adopts the helper
grep -q '^helper_children_after_close=0$' "$WORK/out" \
    || fail "PAM processes of the closed plugin left at the parked helper: $(grep '^helper_children_after_close=' "$WORK/out")"
helper_parked_then_gone
no_secrets "$LOG" Slow-Secret-3

# 4. The user PAM authenticated must be the one who asked. A module that changes
#    PAM_USER (in auth or in account) must not let one user's password open
#    another's session (crtext.sh: a login question answered by a secret).
printf 'mallory\tMallory-Secret-4\n' > "$WORK/accept4"
service remap "auth required $OVPTEST setuser=root accept=$WORK/accept4" "account required $OVPTEST"
service acctmap "auth required $OVPTEST accept=$WORK/accept4" \
    "account required $OVPTEST acctuser=root"
tabs name=remapped username=mallory password=Mallory-Secret-4 expect=deny > "$WORK/c4"
for svc in remap acctmap; do
    LOG="$WORK/c4-$svc.log"
    run_driver "$LOG" "$WORK/c4" -- workers=1 $svc
    expect_ok "PAM_USER changed by a module ($svc) is refused"
    grep -q "PAM's user is \"root\"" "$LOG" || fail "the user change is not logged ($svc)"
done
no_secrets "$LOG" Mallory-Secret-4

# 5. An empty secret never reaches PAM: a module that takes it as proof (as an
#    LDAP anonymous bind does) ignores PAM_DISALLOW_NULL_AUTHTOK, so we refuse first.
printf 'bob\t\nbob\tBob-Secret-6\n' > "$WORK/accept6"
service nullok "auth required $OVPTEST accept=$WORK/accept6" "account required $OVPTEST"
{
    tabs name=empty username=bob password= expect=deny
    tabs name=scrv1-empty username=bob "password=SCRV1::" expect=deny
    tabs name=right username=bob password=Bob-Secret-6 expect=allow
} > "$WORK/c7"
LOG="$WORK/c7.log"
run_driver "$LOG" "$WORK/c7" -- workers=1 nullok
expect_ok "an empty password is refused before PAM sees it"
grep -q "the answer is empty" "$LOG" || fail "the empty answer is not logged"

# 6. Secrets stay out of core dumps: the PAM process is not dumpable, no core limit.
service nodump "auth required $OVPTEST nodump accept=$WORK/accept4" "account required $OVPTEST"
tabs name=nodump username=mallory password=Mallory-Secret-4 expect=allow > "$WORK/c6"
LOG="$WORK/c6.log"
run_driver "$LOG" "$WORK/c6" -- workers=1 nodump
expect_ok "the PAM process holding the password cannot dump core"

finish
