#!/bin/sh
# tls.sh: ldaps:// and StartTLS against a test CA; the server certificate is checked by
# default, host name included: a certificate for another name, or from a CA not
# configured, is refused (TEMP, and a log line saying why). The StartTLS server
# requires TLS for every operation (security tls=1), so a bind sent before StartTLS
# completed would be refused.
. "${srcdir:-.}/auth_ldap/lib.sh"

SLAPD_EXTRA="security tls=1" start_slapd good
GOOD_URL=$SLAPD_URL
GOOD_LDAPS="ldaps://127.0.0.1:$SLAPD_LDAPS_PORT"
CA="$WORK/good/pki/ca.pem"
start_slapd bad wrong
BAD_URL=$SLAPD_URL
BAD_LDAPS="ldaps://127.0.0.1:$SLAPD_LDAPS_PORT"
# Both CAs are generated apart: "bad"'s CA is a stranger to "good"'s.
BADCA="$WORK/bad/pki/ca.pem"

ok_story() {
    story "$1" "$2" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
client w user=alice pass=Wrong-Pass-1
expect w fail "authentication failed"
EOS
}
temp_story() {
    story "$1" "$2" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a fail-contains TEMP
EOS
}

conf "$WORK/ldaps.conf" "$GOOD_LDAPS" "TLSCACertFile $CA"
ok_story ldaps "$WORK/ldaps.conf"
conf "$WORK/starttls.conf" "$GOOD_URL" "TLSEnable yes" "TLSCACertFile $CA"
ok_story starttls "$WORK/starttls.conf"

# Without StartTLS the TLS-only server refuses the service bind: TEMP, and why.
conf "$WORK/clear.conf" "$GOOD_URL"
temp_story clear "$WORK/clear.conf"
grep -q 'the service bind as "uid=svc,ou=Services,dc=example,dc=org" failed: Confidentiality required' \
    "$WORK/clear.out" || fail "no log line for the refused clear-text bind"

# The wrong host name (certificate for wrong.example, same CA): refused both ways.
conf "$WORK/wrongname.conf" "$BAD_LDAPS" "TLSCACertFile $WORK/bad/pki/ca.pem"
temp_story wrongname "$WORK/wrongname.conf"
grep -q "LDAP server $BAD_LDAPS: cannot connect" "$WORK/wrongname.out" \
    || fail "no log line for the wrong host name (ldaps)"
conf "$WORK/wrongname2.conf" "$BAD_URL" "TLSEnable yes" "TLSCACertFile $WORK/bad/pki/ca.pem"
temp_story wrongname2 "$WORK/wrongname2.conf"
grep -q "LDAP server $BAD_URL: StartTLS failed" "$WORK/wrongname2.out" \
    || fail "no log line for the wrong host name (StartTLS)"

# A CA that did not sign the server's certificate.
conf "$WORK/wrongca.conf" "$GOOD_LDAPS" "TLSCACertFile $BADCA"
temp_story wrongca "$WORK/wrongca.conf"

# TLSVerify never accepts it (with a warning at open): for tests only.
conf "$WORK/never.conf" "$BAD_LDAPS" "TLSVerify never"
ok_story never "$WORK/never.conf"
grep -q 'TLSVerify never: the directory server' "$WORK/never.out" || fail "no warning for TLSVerify never"

for f in "$WORK"/*.out; do no_secrets "$f" Alice-Pass-1 Wrong-Pass-1 Svc-Pass-9; done
finish
