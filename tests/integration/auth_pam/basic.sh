#!/bin/sh
# basic.sh: right and wrong passwords, unknown user, account refusals, PAM outages.
. "${srcdir:-.}/auth_pam/lib.sh"

# --- pam_matrix: a password database; bob may use only another service (acct fails)
printf 'alice:Al1ce-Secret-9:ovpm\nbob:B0b-Secret-7:elsewhere\n' > "$WORK/passdb"
service ovpm "auth required $MATRIX passdb=$WORK/passdb" \
             "account required $MATRIX passdb=$WORK/passdb"
{
    tabs name=right username=alice password=Al1ce-Secret-9 expect=allow max_ms=5000
    tabs name=wrong username=alice password=Wr0ng-Secret-1 expect=deny \
         "reason=authentication failed"
    tabs name=unknown username=mallory password=Mall0ry-Secret-3 expect=deny \
         "reason=authentication failed"
    tabs name=no-user username= password=Al1ce-Secret-9 expect=deny
    tabs name=acct-refused username=bob password=B0b-Secret-7 expect=deny \
         "reason=account not permitted"
    tabs name=empty-password username=alice password= expect=deny
} > "$WORK/clients"
LOG="$WORK/basic.log"
run_driver "$LOG" "$WORK/clients" --max-stall-us 20000 -- workers=1 ovpm
expect_ok "pam_matrix: right/wrong password, unknown user, account refused"
grep -q 'PAM service "ovpm"' "$LOG" || fail "no setup line in the log"
grep -q 'user "mallory": pam_authenticate' "$LOG" || fail "no PAM detail for the unknown user"
helper_parked_then_gone
no_secrets "$LOG" Al1ce-Secret-9 Wr0ng-Secret-1 Mall0ry-Secret-3 B0b-Secret-7

# --- account states from pam_ovptest's pam_acct_mgmt (the password is right each time)
printf 'carol\tC4rol-Secret-2\n' > "$WORK/accept"
for st in expired newtok perm unavail; do
    service "acct-$st" "auth required $OVPTEST accept=$WORK/accept" \
        "account required $OVPTEST acct=$st acctmsg=Your_account_is_$st"
done
tabs username=carol password=C4rol-Secret-2 expect=deny "reason=account expired" \
    > "$WORK/c-expired"
tabs username=carol password=C4rol-Secret-2 expect=deny "reason=password expired" \
    > "$WORK/c-newtok"
tabs username=carol password=C4rol-Secret-2 expect=deny \
    "reason=account not permitted: Your account is perm" > "$WORK/c-perm"
tabs username=carol password=C4rol-Secret-2 expect=temp > "$WORK/c-unavail"
for st in expired newtok perm unavail; do
    LOG="$WORK/acct-$st.log"
    run_driver "$LOG" "$WORK/c-$st" -- workers=1 "acct-$st"
    expect_ok "pam_acct_mgmt $st"
    no_secrets "$LOG" C4rol-Secret-2
done
grep -q 'pam_acct_mgmt' "$WORK/acct-expired.log" || fail "no acct detail in the log"

# --- the backend is down (PAM_AUTHINFO_UNAVAIL) and the service is broken: TEMP
service outage "auth required $OVPTEST accept=$WORK/accept unavailfor=carol" \
    "account required $OVPTEST"
tabs username=carol password=C4rol-Secret-2 expect=temp reason=TEMP > "$WORK/c-outage"
LOG="$WORK/outage.log"
run_driver "$LOG" "$WORK/c-outage" -- workers=1 outage
expect_ok "PAM_AUTHINFO_UNAVAIL gives TEMP"

service broken "auth required $WORK/no-such-module.so" "account required $OVPTEST"
tabs username=carol password=C4rol-Secret-2 expect=temp > "$WORK/c-broken"
LOG="$WORK/broken.log"
run_driver "$LOG" "$WORK/c-broken" -- workers=1 broken
expect_ok "a missing PAM module gives TEMP"

finish
