#!/bin/bash
# secret_scan_ldap.sh: the secret scan of e2e_cleanup (tests/secret_scan.sh) on a real
# OpenVPN server at verb 11 with ovp-auth-ldap against slapd (StartTLS) in the server's
# namespace, in two parts:
#   1. OpenVPN in the foreground (its log on stdout, server-fg.log), the service bind's
#      password in a PasswordFile (0600 root);
#   2. production conditions: `daemon` without `log`, so that OpenVPN and the plugin log
#      to syslog (the test's sink, syslog.log), the bind password inline (`Password` in
#      the plugin's config, 0600 root).
# Each part: alice with her right password (connects), alice with a wrong one, and bob
# with his right password but outside the required group (both refused). The bind
# password and the three user passwords must appear in no file under $E2E_DIR but the
# inputs named below (the skips are this scenario's own, not lib.sh's defaults).
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"
slapd_available || e2e_skip_or_fail "slapd, ldap-utils, openssl or python3 missing (apt-get install slapd ldap-utils)"

# Every skip is named here (lib.sh's defaults are dropped), so that a file no one meant to
# skip is scanned.
# shellcheck disable=SC2034 # the list secret_scan (tests/secret_scan.sh) reads
SECRET_SKIPS=""
secret_skip '*.creds' "a client's auth-user-pass file: the input"
secret_skip 'bind.secret' "the PasswordFile of part 1: the bind password is its payload"
secret_skip 'auth-ldap-inline.conf' "the plugin's config of part 2: its inline Password"
secret_skip 'slapd/db/*' "slapd's database: the users' passwords are its data"
secret_skip 'slapd/base.ldif' "slapd's seed entries, passwords included"

BIND_PW=Svc-Pass-9   # uid=svc's password in tests/fixtures/slapd.sh
secret_add "$BIND_PW" Alice-Pass-1 Scan-Wrong-Ldap-4 Bob-Pass-2

e2e_init
e2e_pki alice
PLUGIN=$(e2e_so "$top_builddir/auth-ldap/.libs/ovp-auth-ldap.so")
e2e_sanitized "$PLUGIN"

SLAPD_WRAP="ip netns exec $E2E_SRV"
LDIR="$E2E_DIR/slapd"
mkdir -p "$LDIR"
slapd_setup "$LDIR" || e2e_fail "slapd setup"
slapd_start "$LDIR" || e2e_fail "slapd did not start in the server namespace"
trap 'slapd_stop "$LDIR"; e2e_cleanup' EXIT
chmod 755 "$LDIR" "$LDIR/pki"
chmod 644 "$LDIR/pki/ca.pem"

# ldap_conf BIND-LINE: the plugin's config, with the group check (alice is in cn=vpn,
# bob is not).
ldap_conf() {
    cat <<CONF
<LDAP>
    URL             $SLAPD_URL
    BindDN          uid=svc,ou=Services,dc=example,dc=org
    $1
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
}

# clients PART: the three logins; the right one must connect, the other two be refused
# (bob with the reason that he is outside the group).
clients() {
    local p=$1
    e2e_client "$p-good" alice alice Alice-Pass-1
    e2e_wait_connect "$p-good" 20 || e2e_fail "part $p: alice did not connect: $E2E_WHY"
    e2e_stop "$p-good"
    e2e_client "$p-wrong" alice alice Scan-Wrong-Ldap-4
    e2e_wait_connect "$p-wrong" 20 && e2e_fail "part $p: a wrong password connected"
    e2e_stop "$p-wrong"
    e2e_client "$p-group" alice bob Bob-Pass-2
    e2e_wait_connect "$p-group" 20 && e2e_fail "part $p: bob (not in cn=vpn) connected"
    case $E2E_WHY in
        *"not in a required group"*) ;;
        *) e2e_soft_fail "part $p: bob got: $E2E_WHY" ;;
    esac
    e2e_stop "$p-group"
    e2e_log "ok: part $p: right password connects; wrong password, and right password outside the group, refused"
}

# server_checks PART LOG: once the server has stopped (a worker's lines reach OpenVPN's
# log at the plugin's next call, the last ones at its close), LOG (relative to E2E_DIR)
# shows the plugin's verdicts, at verb 11 (the syslog sink may write a moment later).
server_checks() {
    local p=$1 log=$2
    e2e_wait_log "$log" 'PLUGIN ovp-auth-ldap: .*not in a required group' 5 \
        || e2e_soft_fail "part $p: no line saying bob is not in a required group"
    grep -q 'PLUGIN ovp-auth-ldap: .*bind as "uid=alice,.*refused' "$E2E_DIR/$log" \
        || e2e_soft_fail "part $p: no line saying alice's bind was refused"
    grep -q 'verbosity = 11' "$E2E_DIR/$log" || e2e_soft_fail "part $p: the server did not run at verb 11"
}

# 1. foreground, PasswordFile
printf '%s\n' "$BIND_PW" > "$E2E_DIR/bind.secret"
chmod 600 "$E2E_DIR/bind.secret"
ldap_conf "PasswordFile    $E2E_DIR/bind.secret" > "$E2E_DIR/auth-ldap.conf"
chmod 644 "$E2E_DIR/auth-ldap.conf"
e2e_server_conf "plugin $PLUGIN $E2E_DIR/auth-ldap.conf
verb 11"
e2e_start_server
clients fg
e2e_stop server
server_checks fg server.log
mv "$E2E_DIR/server.log" "$E2E_DIR/server-fg.log"

# 2. daemon + syslog, the bind password inline
ldap_conf "Password        $BIND_PW" > "$E2E_DIR/auth-ldap-inline.conf"
chmod 600 "$E2E_DIR/auth-ldap-inline.conf"
e2e_syslog_sink
e2e_server_conf "daemon ovpe2e-scanldap
plugin $PLUGIN $E2E_DIR/auth-ldap-inline.conf
verb 11"
e2e_start_server
clients sys
e2e_stop server
server_checks sys syslog.log
e2e_log "server lines scanned: $(wc -l < "$E2E_DIR/server-fg.log") (foreground), $(wc -l < "$E2E_DIR/syslog.log") (syslog)"
e2e_log "ok: the scan of every file follows (cleanup)"
e2e_finish
