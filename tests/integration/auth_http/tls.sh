#!/bin/sh
# tls.sh: https with the test CA (CACertFile) allows; a certificate for another host name
# fails (TEMP) and so does an unknown CA; mutual TLS with ClientCertFile/ClientKeyFile (the
# key a secret file, 0600) allows, without a client certificate the handshake fails; a
# bearer token (BearerTokenFile) and an HMAC signature (HMACSecretFile) are checked by the
# fixture; no secret in the log.
. "${srcdir:-.}/auth_http/lib.sh"
command -v openssl >/dev/null || skip_or_fail "openssl missing"
http_pki "$WORK" >/dev/null 2>&1 || die "cannot make the test PKI"
P=$WORK/pki
T="TEMP: the authentication service could not be asked, try again"
OK='{"default": {"action": "allow"}}'

service good "$OK" --tls "$P/server.pem" "$P/server.key"
GOOD=$HTTP_URL
service wrong "$OK" --tls "$P/wrong.pem" "$P/wrong.key"
WRONG=$HTTP_URL
service mtls "$OK" --tls "$P/server.pem" "$P/server.key" --client-ca "$P/ca.pem"
MTLS=$HTTP_URL
secret_skip 'pki/*' "the test PKI: the client key is the payload"
secret_skip client.key "the client key the plugin reads"
secret "$WORK/token.txt" "Tok-3n-Secret-77"
secret "$WORK/hmac.txt" "Hmac-Key-Secret-55"
service bearer "$OK" --bearer-token-file "$WORK/token.txt"
BEARER=$HTTP_URL
service hmac "$OK" --hmac-key-file "$WORK/hmac.txt"
HMAC=$HTTP_URL

conf "$WORK/good.conf" "URL $GOOD" "CACertFile $P/ca.pem" "Retries 0"
conf "$WORK/wrong.conf" "URL $WRONG" "CACertFile $P/ca.pem" "Retries 0"
conf "$WORK/noca.conf" "URL $GOOD" "Retries 0"
cp "$P/client.key" "$WORK/client.key" && chmod 600 "$WORK/client.key"
conf "$WORK/mtls.conf" "URL $MTLS" "CACertFile $P/ca.pem" "ClientCertFile $P/client.pem" \
    "ClientKeyFile $WORK/client.key" "Retries 0"
conf "$WORK/nocert.conf" "URL $MTLS" "CACertFile $P/ca.pem" "Retries 0"
conf "$WORK/bearer.conf" "URL $BEARER" "BearerTokenFile $WORK/token.txt"
conf "$WORK/hmac.conf" "URL $HMAC" "HMACSecretFile $WORK/hmac.txt"
secret "$WORK/badhmac" "not-the-key"
conf "$WORK/badhmac.conf" "URL $HMAC" "HMACSecretFile $WORK/badhmac"

one() { # NAME CONF EXPECT...
    n=$1; c=$2; shift 2
    printf 'client a user=alice pass=Tls-Pass-1 cn=a\nexpect a %s\n' "$*" | story "$n" "$c"
    no_secrets "$WORK/$n.out" Tls-Pass-1 Tok-3n-Secret-77 Hmac-Key-Secret-55 \
        "$(sed -n 2p "$WORK/client.key")"
}
one good "$WORK/good.conf" ok
one wrong "$WORK/wrong.conf" fail "\"$T\""
has "$WORK/wrong.out" "temp by $WRONG" "the wrong host name is not a temp decision"
one noca "$WORK/noca.conf" fail "\"$T\""
one mtls "$WORK/mtls.conf" ok
[ "$(http_log_field "$WORK/mtls" -1 client_subject)" = "commonName=ovp-http-client" ] \
    || fail "the service did not see the client certificate"
one nocert "$WORK/nocert.conf" fail "\"$T\""
one bearer "$WORK/bearer.conf" ok
[ "$(http_log_field "$WORK/bearer" -1 bearer)" = ok ] || fail "the bearer token was not ok"
one hmac "$WORK/hmac.conf" ok
[ "$(http_log_field "$WORK/hmac" -1 hmac)" = ok ] || fail "the HMAC signature was not ok"
one badhmac "$WORK/badhmac.conf" fail '"bad signature"'
# A secret file others can read is refused at open.
chmod 644 "$WORK/hmac.txt"
"$REFCORE" --plugin "$PLUGIN" "$WORK/hmac.conf" -- --clients 1 --username a --password b \
    > "$WORK/perm.out" 2>&1 && fail "a world-readable HMAC key file was accepted"
finish
