#!/bin/sh
# identity.sh: who is authenticated. OpenVPN goes on with the username the client
# sent, so PAM must have authenticated that user: a prompt mapping with a fixed
# name or the certificate's common name must not let one user's password open
# another user's session (any_username=yes is the operator's explicit opt-out).
. "${srcdir:-.}/auth_pam/lib.sh"

# pam_ovptest sets PAM_USER to the answer of its first (echo-on) question, as a
# login question does.
service idlogin "auth required $OVPTEST askon=Login: ask=Password: accept=$WORK/accept" \
    "account required $OVPTEST"
printf 'someuser\tSome-Secret-1\nsomeuser-cert\tCert-Secret-2\n' > "$WORK/accept"

# 1. A fixed name in the mapping: mallory with someuser's password is refused;
#    someuser himself is served.
{
    tabs name=mallory username=mallory password=Some-Secret-1 expect=deny
    tabs name=someuser username=someuser password=Some-Secret-1 expect=allow
} > "$WORK/c1"
LOG="$WORK/c1.log"
run_driver "$LOG" "$WORK/c1" -- workers=1 idlogin login someuser password PASSWORD
expect_ok "a fixed login name in the mapping vouches for no client"
grep 'mallory' "$LOG" | grep -q "PAM's user is \"someuser\", not the client's username" ||
    fail "the refusal is not logged with the client and the reason"
no_secrets "$LOG" Some-Secret-1

# 2. COMMONNAME as the login: the certificate names someuser-cert, the client says
#    mallory: refused. The same certificate with the matching username is served.
{
    tabs name=cn-mallory username=mallory common_name=someuser-cert password=Cert-Secret-2 \
        expect=deny
    tabs name=cn-same username=someuser-cert common_name=someuser-cert password=Cert-Secret-2 \
        expect=allow
} > "$WORK/c2"
LOG="$WORK/c2.log"
run_driver "$LOG" "$WORK/c2" -- workers=1 idlogin login COMMONNAME password PASSWORD
expect_ok "COMMONNAME as the login vouches only for the same username"
grep -q "PAM's user is \"someuser-cert\", not the client's username" "$LOG" ||
    fail "the COMMONNAME refusal is not logged"

# 3. A stack that names nobody (only a shared secret): PAM_USER stays unset and no
#    user is vouched for.
service idnone "auth required $OVPTEST ask=Password: accept=$WORK/accept3" \
    "account required $OVPTEST"
printf 'Shared-Secret-3\n' > "$WORK/accept3"
tabs name=nobody username=mallory password=Shared-Secret-3 expect=deny > "$WORK/c3"
LOG="$WORK/c3.log"
run_driver "$LOG" "$WORK/c3" -- workers=1 idnone password PASSWORD
expect_ok "a stack that authenticates no user vouches for no client"
grep -q "PAM's user is \"(none)\"" "$LOG" || fail "the unnamed refusal is not logged"

# 4. any_username=yes: the operator accepts whatever name the client sends.
{
    tabs name=any username=mallory password=Some-Secret-1 expect=allow
    tabs name=any-wrong username=mallory password=Wrong-Secret-4 expect=deny
} > "$WORK/c4"
LOG="$WORK/c4.log"
run_driver "$LOG" "$WORK/c4" -- workers=1 any_username=yes idlogin login someuser password PASSWORD
expect_ok "any_username=yes accepts the fixed-name mapping"
grep -q 'any_username=yes' "$LOG" || fail "the open line does not show any_username"
tabs name=any-none username=mallory password=Shared-Secret-3 expect=allow > "$WORK/c5"
LOG="$WORK/c5.log"
run_driver "$LOG" "$WORK/c5" -- workers=1 any_username=yes idnone password PASSWORD
expect_ok "any_username=yes accepts a stack that names nobody"

# 5. A login answered with the password: refused, and PAM's user (the password)
#    stays out of the log.
printf 'Leak-Secret-5\tLeak-Secret-5\n' >> "$WORK/accept"
tabs name=pw-login username=mallory password=Leak-Secret-5 expect=deny > "$WORK/c7"
LOG="$WORK/c7.log"
run_driver "$LOG" "$WORK/c7" -- workers=1 idlogin login PASSWORD password PASSWORD
expect_ok "a login answered with the password vouches for nobody"
grep -q "PAM's user is \"(not shown: it holds a secret" "$LOG" || fail "the hidden user is not logged"
no_secrets "$LOG" Leak-Secret-5

# 6. A USERNAME-derived login still works without the option.
tabs name=derived username=someuser password=Some-Secret-1 expect=allow > "$WORK/c6"
LOG="$WORK/c6.log"
run_driver "$LOG" "$WORK/c6" -- workers=1 idlogin login USERNAME password PASSWORD
expect_ok "a login answered with USERNAME vouches for the client"

finish
