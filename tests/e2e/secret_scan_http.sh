#!/bin/bash
# secret_scan_http.sh: the secret scan of e2e_cleanup (tests/secret_scan.sh) on a real
# OpenVPN server at verb 11 with ovp-auth-http against the scripted fixture service
# (tests/fixtures/http_service.py) over HTTPS in the server's namespace, every request
# carrying a bearer token and an HMAC signature, in two parts:
#   1. OpenVPN in the foreground (its log on stdout, server-fg.log), the token and the HMAC
#      key in BearerTokenFile / HMACSecretFile (0600 root);
#   2. production conditions: `daemon` without `log`, so that OpenVPN and the plugin log
#      to syslog (the test's sink, syslog.log), the token and the key inline (BearerToken,
#      HMACSecret in the plugin's config, 0600 root).
# Each part: alice with a wrong password (the service refuses it), then with her right
# one (connects). The token, the HMAC key and both passwords must appear in no file under
# $E2E_DIR but the inputs and the service's own request log (the skips are this
# scenario's own, not lib.sh's defaults).
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/http_service.sh"
http_available || e2e_skip_or_fail "python3 or openssl missing (apt-get install python3 openssl)"

# Every skip is named here (lib.sh's defaults are dropped), so that a file no one meant to
# skip is scanned.
# shellcheck disable=SC2034 # the list secret_scan (tests/secret_scan.sh) reads
SECRET_SKIPS=""
secret_skip '*.creds' "a client's auth-user-pass file: the input"
secret_skip 'token.secret' "BearerTokenFile of part 1 (and the service's copy): the token is its payload"
secret_skip 'hmac.secret' "HMACSecretFile of part 1 (and the service's copy): the key is its payload"
secret_skip 'auth-http-inline.conf' "the plugin's config of part 2: its inline BearerToken and HMACSecret"
secret_skip 'http/requests.jsonl' "the service's record of each request: the password it received is the payload (the token is redacted)"

TOKEN=Scan-Bearer-Token-8812
HMAC=Scan-Hmac-Key-5309
RIGHT=Alice-Http-Pass-1
WRONG=Scan-Wrong-Http-2
secret_add "$TOKEN" "$HMAC" "$RIGHT" "$WRONG"

e2e_init
e2e_pki alice
PLUGIN=$(e2e_so "$top_builddir/auth-http/.libs/ovp-auth-http.so")
e2e_sanitized "$PLUGIN"

HTTP_WRAP="ip netns exec $E2E_SRV"
H="$E2E_DIR/http"
http_pki "$H" || e2e_fail "http_pki failed"
chmod -R a+rX "$H"
printf '%s\n' "$HMAC" > "$E2E_DIR/hmac.secret"
printf '%s\n' "$TOKEN" > "$E2E_DIR/token.secret"
chmod 600 "$E2E_DIR/hmac.secret" "$E2E_DIR/token.secret"
# alice's first request of a part is refused (as a wrong password would be), the next allowed
SCRIPT='{"default": {"action": "deny", "reason": "unknown user"},
 "users": {"alice": {"action": "allow", "reason": "welcome alice"}},
 "rules": [{"username": "alice", "times": 1,
            "action": {"action": "deny", "reason": "wrong password"}}]}'
http_start "$H" "$SCRIPT" --tls "$H/pki/server.pem" "$H/pki/server.key" \
    --hmac-key-file "$E2E_DIR/hmac.secret" --bearer-token-file "$E2E_DIR/token.secret" \
    || e2e_fail "the fixture service did not start in the server namespace"
trap 'http_stop "$H"; e2e_cleanup' EXIT

# http_conf SECRET-LINES: the plugin's config
http_conf() {
    cat <<CONF
<HTTP>
    URL             $HTTP_URL
    CACertFile      $H/pki/ca.pem
    $1
    ConnectTimeout  2
    Timeout         3
    Retries         0
</HTTP>
CONF
}

# clients PART: a wrong password refused with the service's reason, then the right
# one connects; the service saw both, signed, with the token, over TLS.
clients() {
    local p=$1 n0 seen
    http_script "$H" "$SCRIPT" || e2e_fail "part $p: could not set the service's script"
    n0=$(http_log_count "$H")
    e2e_client "$p-wrong" alice alice "$WRONG"
    e2e_wait_connect "$p-wrong" 20 && e2e_fail "part $p: the wrong password connected"
    case $E2E_WHY in
        "AUTH_FAILED,wrong password"*) ;;
        *) e2e_soft_fail "part $p: the wrong password got: $E2E_WHY" ;;
    esac
    e2e_stop "$p-wrong"
    e2e_client "$p-good" alice alice "$RIGHT"
    e2e_wait_connect "$p-good" 20 || e2e_fail "part $p: alice did not connect: $E2E_WHY"
    e2e_stop "$p-good"
    # what the service received, compared here (never printed: it holds the passwords)
    seen=$(http_log_query "$H" '"%s %s %s %s" % (e["tls"], e["hmac"], e["bearer"], e["body"].get("password"))' \
        "e['seq'] > $n0" | tr '\n' '|')
    [ "$seen" = "True ok ok $WRONG|True ok ok $RIGHT|" ] \
        || e2e_soft_fail "part $p: the service did not get the two passwords, signed and with the token, over TLS ($(printf '%s' "$seen" | grep -o '|' | wc -l) requests)"
    e2e_log "ok: part $p: the wrong password refused with the service's reason, the right one connects"
}

# server_checks PART LOG: once the server has stopped, LOG (relative to E2E_DIR) has the
# plugin's lines, at verb 11 (the syslog sink may write a moment later).
server_checks() {
    e2e_wait_log "$2" 'PLUGIN ovp-auth-http' 5 || e2e_soft_fail "part $1: no plugin line in $2"
    grep -q 'verbosity = 11' "$E2E_DIR/$2" || e2e_soft_fail "part $1: the server did not run at verb 11"
}

# 1. foreground, secret files
http_conf "HMACSecretFile  $E2E_DIR/hmac.secret
    BearerTokenFile $E2E_DIR/token.secret" > "$E2E_DIR/auth-http.conf"
chmod 644 "$E2E_DIR/auth-http.conf"
e2e_server_conf "plugin $PLUGIN $E2E_DIR/auth-http.conf
verb 11"
e2e_start_server
clients fg
e2e_stop server
server_checks fg server.log
mv "$E2E_DIR/server.log" "$E2E_DIR/server-fg.log"

# 2. daemon + syslog, the token and the key inline
http_conf "HMACSecret      $HMAC
    BearerToken     $TOKEN" > "$E2E_DIR/auth-http-inline.conf"
chmod 600 "$E2E_DIR/auth-http-inline.conf"
e2e_syslog_sink
e2e_server_conf "daemon ovpe2e-scanhttp
plugin $PLUGIN $E2E_DIR/auth-http-inline.conf
verb 11"
e2e_start_server
clients sys
e2e_stop server
server_checks sys syslog.log
http_stop "$H"
e2e_log "server lines scanned: $(wc -l < "$E2E_DIR/server-fg.log") (foreground), $(wc -l < "$E2E_DIR/syslog.log") (syslog)"
e2e_log "ok: the scan of every file follows (cleanup)"
e2e_finish
