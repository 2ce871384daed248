#!/bin/sh
# token.sh: TokenSkip: a renegotiation whose auth-gen-token OpenVPN verified
# (session_state Authenticated) is accepted without asking the directory; without
# TokenSkip the token goes to the directory as a password and fails there.
. "${srcdir:-.}/auth_ldap/lib.sh"

start_slapd main
conf "$WORK/skip.conf" "$SLAPD_URL" -- "TokenSkip true"
story skip "$WORK/skip.conf" --auth-gen-token external-auth <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
mark
reneg a
expect a reneg-ok
expect call "AUTH_USER_PASS_VERIFY -> SUCCESS"
EOS
grep -q 'accepted without LDAP (TokenSkip)' "$WORK/skip.out" || fail "no TokenSkip line"

conf "$WORK/noskip.conf" "$SLAPD_URL"
story noskip "$WORK/noskip.conf" --auth-gen-token external-auth <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
mark
reneg a
expect a fail "authentication failed"
EOS
finish
