#!/bin/sh
# odd_users.sh: usernames and passwords as clients really send them: quotes, spaces,
# UTF-8, shell metacharacters, and OpenVPN's longest (4095 bytes, no truncation).
. "${srcdir:-.}/auth_pam/lib.sh"

long_user=$(head -c 4095 /dev/zero | tr '\0' 'u')
long_pass=$(head -c 4095 /dev/zero | tr '\0' 'p')
# One byte different at the end: a plugin that truncates accepts this one.
long_pass_bad=$(head -c 4094 /dev/zero | tr '\0' 'p')X
huge_user=$(head -c 20000 /dev/zero | tr '\0' 'h')

cat > "$WORK/accept" <<EOT
O'Brien "the" user	Quote-Secret-1
jürgen.müller@bücher.example	Utf8-Sécret-2
\$(touch $WORK/pwned)	Shell-Secret-3
;touch $WORK/pwned2;|&<>*?#%=+,\\	Shell-Secret-4
$long_user	$long_pass
EOT
service odd "auth required $OVPTEST accept=$WORK/accept" "account required $OVPTEST"
{
    tabs name=quotes-spaces "username=O'Brien \"the\" user" password=Quote-Secret-1 expect=allow
    tabs name=utf8 "username=jürgen.müller@bücher.example" password=Utf8-Sécret-2 expect=allow
    tabs name=subshell "username=\$(touch $WORK/pwned)" password=Shell-Secret-3 expect=allow
    tabs name=metachars "username=;touch $WORK/pwned2;|&<>*?#%=+,\\" password=Shell-Secret-4 expect=allow
    tabs name=longest "username=$long_user" "password=$long_pass" expect=allow
    tabs name=longest-wrong "username=$long_user" "password=$long_pass_bad" expect=deny
    tabs name=too-long "username=$huge_user" password=x expect=deny
} > "$WORK/clients"
LOG="$WORK/odd.log"
run_driver "$LOG" "$WORK/clients" -- workers=1 odd
expect_ok "odd and long usernames"
[ -e "$WORK/pwned" ] && fail "a username was run by a shell"
[ -e "$WORK/pwned2" ] && fail "a username was run by a shell"
grep -q 'longer than 16384 bytes' "$LOG" || fail "an oversize username was not reported"
no_secrets "$LOG" Quote-Secret-1 Utf8-Sécret-2 Shell-Secret-3 Shell-Secret-4 "$long_pass" \
    "$(printf '%s' "$long_pass" | head -c 64)"

finish
