#!/bin/sh
# mapping.sh: answering PAM's questions: prompt prefixes and value templates.
. "${srcdir:-.}/auth_pam/lib.sh"

b64() { printf '%s' "$1" | base64 -w0; }

# 1. Each placeholder and literal text, an info message on the way (needs no answer).
service map1 "auth required $OVPTEST info=Welcome askon=Login: ask=Password: askon=Certificate_name: askon=Domain: accept=$WORK/accept1" \
    "account required $OVPTEST"
printf 'alice@example.org\tMap-Secret-1\talice-cert\tCORP\n' > "$WORK/accept1"
{
    tabs name=all-placeholders username=alice password=Map-Secret-1 common_name=alice-cert expect=allow
    tabs name=wrong-cn username=alice password=Map-Secret-1 common_name=mallory-cert expect=deny
    tabs name=wrong-password username=alice password=Map-Wrong-2 common_name=alice-cert expect=deny
} > "$WORK/c1"
LOG="$WORK/map1.log"
run_driver "$LOG" "$WORK/c1" -- workers=1 map1 login USERNAME@example.org password PASSWORD \
    certificate COMMONNAME domain CORP
expect_ok "USERNAME, PASSWORD, COMMONNAME and literal text"
grep -q 'prompts: "login" -> USERNAME+"@example.org"' "$LOG" || fail "mapping not described at open"
grep -q 'answered with PASSWORD' "$LOG" || fail "no debug line for the password prompt at verb 11"
no_secrets "$LOG" Map-Secret-1 Map-Wrong-2

# 2. PASSWORD and OTP in one answer (static challenge), prefix matched case-insensitively
#    after leading blanks, as the bundled plugin does.
service map2 "auth required $OVPTEST ask=__PASSWORD_and_code: accept=$WORK/accept2" \
    "account required $OVPTEST"
printf 'Otp-Secret-3|731904\n' > "$WORK/accept2"
{
    tabs name=password-otp username=bob "password=SCRV1:$(b64 Otp-Secret-3):$(b64 731904)" expect=allow
    tabs name=wrong-otp username=bob "password=SCRV1:$(b64 Otp-Secret-3):$(b64 111111)" expect=deny
} > "$WORK/c2"
LOG="$WORK/map2.log"
# (The stack names no user, so any_username=yes: identity.sh.)
run_driver "$LOG" "$WORK/c2" -- workers=1 any_username=yes map2 passWord 'PASSWORD|OTP'
expect_ok "PASSWORD|OTP in one answer"
no_secrets "$LOG" Otp-Secret-3 731904 "$(b64 Otp-Secret-3)"

# 3. A question no mapping answers: denied, and the log names the question.
service map3 "auth required $OVPTEST ask=Password: ask=Token: accept=$WORK/accept2" \
    "account required $OVPTEST"
tabs name=unanswered username=bob password=Otp-Secret-3 expect=deny > "$WORK/c3"
LOG="$WORK/map3.log"
run_driver "$LOG" "$WORK/c3" -- workers=1 map3 password PASSWORD
expect_ok "an unmapped question fails the authentication"
grep -q 'PAM asked "Token:"' "$LOG" || fail "the unanswered question is not logged"

# 4. First match wins; an empty prefix is a catch-all.
service map4 "auth required $OVPTEST ask=Password: ask=Anything_else: accept=$WORK/accept4" \
    "account required $OVPTEST"
printf 'FirstWins\tCatch-All-4\n' > "$WORK/accept4"
tabs name=order username=carol password=Catch-All-4 expect=allow > "$WORK/c4"
LOG="$WORK/map4.log"
run_driver "$LOG" "$WORK/c4" -- workers=1 any_username=yes map4 pass FirstWins password USERNAME '' PASSWORD
expect_ok "first matching prefix wins, empty prefix catches the rest"

# 5. No mapping: echo-on questions get the username, echo-off ones the password.
service map5 "auth required $OVPTEST askon=Name: ask=Secret: accept=$WORK/accept5" \
    "account required $OVPTEST"
printf 'dave\tPlain-Secret-5\n' > "$WORK/accept5"
tabs name=default-mode username=dave password=Plain-Secret-5 expect=allow > "$WORK/c5"
LOG="$WORK/map5.log"
run_driver "$LOG" "$WORK/c5" -- workers=1 map5
expect_ok "default conversation without a mapping"
no_secrets "$LOG" Plain-Secret-5

finish
