#!/bin/sh
# tls_min.sh: TLSMinVersion against servers that speak only some TLS versions. A server
# held to TLS 1.2 (GnuTLS priority without 1.3) is refused with TLSMinVersion 1.3 (TEMP,
# and a log line saying the handshake failed), over ldaps:// and StartTLS alike, and
# used with the default (1.2); a server that speaks 1.3 is used with TLSMinVersion 1.3.
# openssl s_client checks first that the fixture servers speak what the test says.
. "${srcdir:-.}/auth_ldap/lib.sh"

# Debian's slapd uses GnuTLS: TLSCipherSuite takes a GnuTLS priority string.
SLAPD_EXTRA="TLSCipherSuite NORMAL:-VERS-ALL:+VERS-TLS1.2" start_slapd v12
V12_URL=$SLAPD_URL
V12_LDAPS="ldaps://127.0.0.1:$SLAPD_LDAPS_PORT"
V12_PORT=$SLAPD_LDAPS_PORT
CA12="$WORK/v12/pki/ca.pem"
start_slapd v13
V13_LDAPS="ldaps://127.0.0.1:$SLAPD_LDAPS_PORT"
V13_PORT=$SLAPD_LDAPS_PORT
CA13="$WORK/v13/pki/ca.pem"

# The fixture really is what the test says: 1.2 only, and 1.3 on the other.
if command -v openssl >/dev/null 2>&1; then
    ver() {
        p=$1; ca=$2; shift 2
        echo | openssl s_client -brief -connect "127.0.0.1:$p" -CAfile "$ca" "$@" 2>&1 \
            | sed -n 's/^Protocol version: *//p' | head -n 1
    }
    v=$(ver "$V12_PORT" "$CA12")
    [ "$v" = TLSv1.2 ] || fail "the 1.2-only server negotiated \"$v\""
    echo | openssl s_client -connect "127.0.0.1:$V12_PORT" -CAfile "$CA12" -tls1_3 \
        >/dev/null 2>&1 && fail "the 1.2-only server accepted a TLS 1.3-only client"
    v=$(ver "$V13_PORT" "$CA13")
    [ "$v" = TLSv1.3 ] || fail "the other server negotiated \"$v\", not TLSv1.3"
fi

ok_story() {
    story "$1" "$2" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a ok
client w user=alice pass=Wrong-Pass-1 cn=w
expect w fail "authentication failed"
EOS
}
temp_story() {
    story "$1" "$2" <<'EOS'
client a user=alice pass=Alice-Pass-1
expect a fail-contains TEMP
EOS
}

# 1.2-only server: TLSMinVersion 1.3 refuses it (ldaps and StartTLS), 1.2 accepts it.
conf "$WORK/l13.conf" "$V12_LDAPS" "TLSCACertFile $CA12" "TLSMinVersion 1.3"
temp_story l13 "$WORK/l13.conf"
grep -q "LDAP server $V12_LDAPS: the server negotiated TLS1.2, below TLSMinVersion 1.3: refused before any bind" \
    "$WORK/l13.out" || fail "no log line for the refused TLS 1.2 server (ldaps)"
grep -q "TLSMinVersion 1.3" "$WORK/l13.out" || fail "the setup line does not say TLSMinVersion 1.3"
conf "$WORK/s13.conf" "$V12_URL" "TLSEnable yes" "TLSCACertFile $CA12" "TLSMinVersion 1.3"
temp_story s13 "$WORK/s13.conf"
grep -q "LDAP server $V12_URL: the server negotiated TLS1.2, below TLSMinVersion 1.3" \
    "$WORK/s13.out" || fail "no log line for the refused TLS 1.2 server (StartTLS)"
conf "$WORK/l12.conf" "$V12_LDAPS" "TLSCACertFile $CA12"
ok_story l12 "$WORK/l12.conf"
grep -q "TLSMinVersion 1.2" "$WORK/l12.out" || fail "the default is not TLSMinVersion 1.2"
conf "$WORK/s12.conf" "$V12_URL" "TLSEnable yes" "TLSCACertFile $CA12" "TLSMinVersion 1.2"
ok_story s12 "$WORK/s12.conf"

# A server that speaks 1.3: TLSMinVersion 1.3 works.
conf "$WORK/v13.conf" "$V13_LDAPS" "TLSCACertFile $CA13" "TLSMinVersion 1.3"
ok_story v13 "$WORK/v13.conf"

# A version that does not exist is refused at open, naming the choices.
conf "$WORK/bad.conf" "$V13_LDAPS" "TLSCACertFile $CA13" "TLSMinVersion 1.4"
"$REFCORE" --plugin "$PLUGIN" "$WORK/bad.conf" -- --verb 3 --clients 1 --username alice \
    --password Alice-Pass-1 > "$WORK/bad.out" 2>&1 && fail "TLSMinVersion 1.4 was accepted"
grep -q "TLSMinVersion" "$WORK/bad.out" || fail "the error does not name TLSMinVersion"

for f in "$WORK"/*.out; do no_secrets "$f" Alice-Pass-1 Wrong-Pass-1 Svc-Pass-9; done
finish
