#!/bin/bash
# auth_ldap.sh: ovp-auth-ldap in a real OpenVPN server (user nobody) against slapd in the
# server's namespace, over StartTLS with a test CA and the service password in a
# PasswordFile (0600 root): right / wrong password, injection, a SIGHUP reload as
# nobody (the password file is then unreadable and kept from the first read), and the
# directory stopped (TEMP, the client is told to retry).
E2E_TAG=${E2E_TAG:-ldap-e2e}
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"
slapd_available || e2e_skip_or_fail "slapd, ldap-utils, openssl or python3 missing (apt-get install slapd ldap-utils)"
e2e_init
e2e_pki alice
PLUGIN=$(e2e_so "$top_builddir/auth-ldap/.libs/ovp-auth-ldap.so")
e2e_sanitized "$PLUGIN"

SLAPD_WRAP="ip netns exec $E2E_SRV"
LDIR="$E2E_DIR/slapd"
mkdir -p "$LDIR"
slapd_setup "$LDIR" || e2e_fail "slapd setup"
slapd_start "$LDIR" || e2e_fail "slapd did not start in the server namespace"
stop_slapd() { slapd_stop "$LDIR"; }
trap 'stop_slapd; e2e_cleanup' EXIT
chmod 755 "$LDIR" "$LDIR/pki"
chmod 644 "$LDIR/pki/ca.pem"

printf 'Svc-Pass-9\n' > "$E2E_DIR/bind.secret"
chmod 600 "$E2E_DIR/bind.secret"
cat > "$E2E_DIR/auth-ldap.conf" <<CONF
<LDAP>
    URL             $SLAPD_URL
    BindDN          uid=svc,ou=Services,dc=example,dc=org
    PasswordFile    $E2E_DIR/bind.secret
    Timeout         3
    TLSEnable       yes
    TLSCACertFile   $LDIR/pki/ca.pem
</LDAP>
<Authorization>
    BaseDN          "dc=example,dc=org"
    SearchFilter    "(uid=%u)"
    RequireGroup    true
    <Group>
        BaseDN          "ou=Groups,dc=example,dc=org"
        SearchFilter    "(cn=vpn)"
        MemberAttribute member
    </Group>
</Authorization>
CONF
chmod 644 "$E2E_DIR/auth-ldap.conf"

e2e_server_conf "plugin $PLUGIN $E2E_DIR/auth-ldap.conf"
e2e_start_server

# 1. right password, group member
e2e_client c1 alice alice Alice-Pass-1
e2e_wait_connect c1 20 || e2e_fail "alice did not connect: $E2E_WHY"
e2e_stop c1
e2e_log "ok: right password connects (StartTLS, service bind from a PasswordFile)"

# 2. wrong password and an injection attempt: plain AUTH_FAILED
e2e_client c2 alice alice Wrong-Pass-1
e2e_wait_connect c2 20 && e2e_fail "a wrong password connected"
case "$E2E_WHY" in
    "AUTH_FAILED,authentication failed"*) e2e_log "ok: wrong password refused" ;;
    *) e2e_soft_fail "wrong password got: $E2E_WHY" ;;
esac
e2e_client c3 alice '*)(uid=*' Alice-Pass-1
e2e_wait_connect c3 20 && e2e_fail "an injection attempt connected"
e2e_log "ok: '*)(uid=*' refused ($E2E_WHY)"

# 3. SIGHUP: plugins reopen as nobody; the password file (0600 root) is kept
e2e_sighup
grep -q "bind.secret.*restart" "$E2E_DIR/server.log" \
    || e2e_soft_fail "no warning that the kept password file needs a restart to change"
e2e_client c4 alice alice Alice-Pass-1
if e2e_wait_connect c4 20; then
    e2e_log "ok: after the SIGHUP as nobody the right password connects"
else
    e2e_soft_fail "after the SIGHUP the right password did not connect: $E2E_WHY"
fi
e2e_stop c4

# 4. directory stopped: TEMP, so that the client retries instead of giving up
stop_slapd
e2e_client c5 alice alice Alice-Pass-1
e2e_wait_connect c5 20 && e2e_fail "connected with the directory stopped"
case "$E2E_WHY" in
    "AUTH_FAILED,TEMP"*) e2e_log "ok: directory down gives $E2E_WHY" ;;
    *) e2e_soft_fail "directory down gave: $E2E_WHY" ;;
esac

grep "PLUGIN ovp-auth-ldap" "$E2E_DIR/server.log" | grep -q -e Alice-Pass-1 -e Wrong-Pass-1 -e Svc-Pass-9 \
    && e2e_soft_fail "a password reached the log"
grep -q "ovp-auth-ldap.*2 threads" "$E2E_DIR/server.log" || e2e_soft_fail "no setup line"
e2e_finish
e2e_log "ok: ovp-auth-ldap in a real OpenVPN, before and after a SIGHUP as nobody"
