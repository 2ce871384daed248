#!/bin/bash
# auth_ldap_limits.sh: ovp-auth-ldap in a real OpenVPN 2.6 server under the limits of
# Debian 12's openvpn-server@.service (LimitNPROC=10 for the run-as user, its
# CapabilityBoundingSet), with client config from the directory (PushAttribute) and
# auth-gen-token external-auth + TokenSkip: a client connects through the directory and
# gets its pushed routes; reconnecting with its token (SIGUSR1), the auth skips the
# directory, so the real OpenVPN's CLIENT_CONNECT_V2 is answered DEFERRED and
# CLIENT_CONNECT_DEFER_V2 hands over the config the backend thread looked up; with the
# directory hung (SIGSTOP) that lookup fails after Timeout with a clear line while the
# server keeps serving; a SIGHUP reopens the plugin without spending more of the budget.
# OpenVPN runs as a throwaway user of its own (RLIMIT_NPROC counts every task of the user
# system-wide: other scenarios' servers run as nobody).
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"
slapd_available || e2e_skip_or_fail "slapd, ldap-utils, openssl or python3 missing (apt-get install slapd ldap-utils)"
e2e_init
e2e_pki alice bob
PLUGIN=$(e2e_so "$top_builddir/auth-ldap/.libs/ovp-auth-ldap.so")
e2e_sanitized "$PLUGIN"
e2e_systemd_limits
E2E_RUNAS=ovpe2e-ldlim-run
e2e_account "$E2E_RUNAS"

SLAPD_WRAP="ip netns exec $E2E_SRV"
LDIR="$E2E_DIR/slapd"
mkdir -p "$LDIR"
slapd_setup "$LDIR" || e2e_fail "slapd setup"
slapd_start "$LDIR" || e2e_fail "slapd did not start in the server namespace"
LPID=$(cat "$LDIR/slapd.pid")
stop_slapd() {
    kill -CONT "$LPID" 2>/dev/null
    slapd_stop "$LDIR"
}
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
    TokenSkip       true
    PushAttribute   description
</Authorization>
CONF
chmod 644 "$E2E_DIR/auth-ldap.conf"

e2e_server_conf "plugin $PLUGIN $E2E_DIR/auth-ldap.conf
auth-gen-token 0 external-auth"
e2e_start_server
spid=$(cat "$E2E_DIR/server.pid")
tasks() { ps -L -u "$E2E_RUNAS" -o lwp= 2>/dev/null | grep -c .; }
grep -q '^Max processes *10 *10 ' "/proc/$spid/limits" || e2e_fail "the server does not run with LimitNPROC=10"
e2e_log "server up under the unit's limits; $(tasks) task(s) of $E2E_RUNAS"
limit_errors() {
    grep -i -E "Resource temporarily unavailable|pthread_create|cannot start the LDAP thread|EAGAIN" \
        "$E2E_DIR/server.log" | head -n 3
}
# pushed NAME: the PUSH_REPLYs client NAME received so far.
pushed() { grep -o "PUSH_REPLY,.*" "$E2E_DIR/$1.log" 2>/dev/null; }

# 1. alice connects through the directory: her description values are pushed.
e2e_client c1 alice alice Alice-Pass-1
e2e_wait_connect c1 20 || e2e_fail "alice did not connect: $E2E_WHY"
pushed c1 | grep -q "route 10.50.0.0 255.255.0.0" \
    || e2e_soft_fail "alice's route from the directory was not pushed: $(pushed c1)"
pushed c1 | grep -q "auth-token" || e2e_soft_fail "no auth-token pushed"
e2e_log "ok: alice connected through the directory with her pushed route"

# 2. alice reconnects with her token (SIGUSR1): TokenSkip, client-connect deferred. The
# directory pauses (SIGSTOP, well under Timeout) until OpenVPN has seen DEFERRED, so the
# answer surely comes through CLIENT_CONNECT_DEFER_V2 (a lookup quicker than OpenVPN's
# own call would be answered by CLIENT_CONNECT_V2 itself).
n=$(grep -c "Initialization Sequence Completed" "$E2E_DIR/c1.log")
kill -STOP "$LPID"
kill -USR1 "$(cat "$E2E_DIR/c1.pid")"
e2e_wait_log server.log "PLUGIN_CLIENT_CONNECT_V2 status=2" 10 \
    || e2e_soft_fail "the token reconnect's client-connect was not deferred"
sleep 0.5
kill -CONT "$LPID"
t=200
while [ "$(grep -c "Initialization Sequence Completed" "$E2E_DIR/c1.log")" -le "$n" ] && [ $t -gt 0 ]; do
    sleep 0.1
    t=$((t - 1))
done
[ $t -gt 0 ] || e2e_fail "alice did not reconnect with her token: $(tail -n 3 "$E2E_DIR/c1.log" | tr '\n' '|')"
grep -q "accepted without LDAP (TokenSkip)" "$E2E_DIR/server.log" \
    || e2e_soft_fail "the reconnect was not accepted by TokenSkip"
[ "$(pushed c1 | grep -c "route 10.50.0.0 255.255.0.0")" -ge 2 ] \
    || e2e_soft_fail "after the token reconnect the route was not pushed again: $(pushed c1 | tail -n 1)"
grep -q "alice.*client-connect allowed (2 config lines)" "$E2E_DIR/server.log" \
    || e2e_soft_fail "no line for the deferred client-connect"
# OpenVPN's own lines (verb 4): the v2 call deferred, a DEFER_V2 call answered it.
grep -q "PLUGIN_CLIENT_CONNECT_V2 status=2" "$E2E_DIR/server.log" \
    || e2e_soft_fail "OpenVPN did not see CLIENT_CONNECT_V2 deferred"
grep -q "PLUGIN_CLIENT_CONNECT_DEFER_V2 status=0" "$E2E_DIR/server.log" \
    || e2e_soft_fail "OpenVPN did not see CLIENT_CONNECT_DEFER_V2 succeed"
e2e_log "ok: token reconnect: client-connect deferred, the config looked up and pushed"

# 3. The directory hangs: the next token reconnect's lookup fails after Timeout (3 s),
# with a line naming the client; meanwhile the server keeps serving bob's tunnel.
e2e_client c2 bob bob Bob-Pass-2
e2e_wait_connect c2 20 || e2e_fail "bob did not connect: $E2E_WHY"
kill -STOP "$LPID"
kill -USR1 "$(cat "$E2E_DIR/c1.pid")"
# Until OpenVPN has deferred this second lookup's client-connect: the ping runs while
# the backend thread waits for the hung directory.
t=100
while [ "$(grep -c "PLUGIN_CLIENT_CONNECT_V2 status=2" "$E2E_DIR/server.log")" -lt 2 ] && [ $t -gt 0 ]; do
    sleep 0.1
    t=$((t - 1))
done
[ $t -gt 0 ] || e2e_soft_fail "the token reconnect's client-connect was not deferred"
bobdev=$(grep -o -m1 "TUN/TAP device [^ ]* opened" "$E2E_DIR/c2.log" | awk '{ print $3 }')
ip netns exec "$E2E_CLI" ping -c 3 -i 0.3 -W 1 -I "$bobdev" 198.51.100.1 > "$E2E_DIR/ping.out" 2>&1 \
    || e2e_soft_fail "bob's tunnel did not answer while alice's lookup waited: $(tail -n 2 "$E2E_DIR/ping.out" | tr '\n' '|')"
e2e_wait_log server.log "client-connect failed \(backend unavailable\): client config lookup" 15 \
    || e2e_soft_fail "no line for the failed lookup against the hung directory"
grep -q "PLUGIN_CLIENT_CONNECT_DEFER_V2 status=1" "$E2E_DIR/server.log" \
    || e2e_soft_fail "OpenVPN did not see CLIENT_CONNECT_DEFER_V2 fail"
kill -CONT "$LPID"
e2e_log "ok: hung directory: $(grep -o -m1 "client-connect failed (backend unavailable): .*" "$E2E_DIR/server.log"); bob's tunnel answered meanwhile"
e2e_stop c1
e2e_stop c2
sleep 0.5

errs=$(limit_errors)
[ -z "$errs" ] || e2e_soft_fail "a thread failed under LimitNPROC=10: $errs"
before=$(tasks)

# 4. SIGHUP under the same limit: the plugin reopens as the run-as user, no new thread.
e2e_sighup 20
sleep 0.3
after=$(tasks)
e2e_log "reloaded; $after task(s) of $E2E_RUNAS (before: $before)"
[ "$after" -le "$before" ] || e2e_soft_fail "the reload raised the tasks of $E2E_RUNAS from $before to $after"
e2e_client c3 alice alice Alice-Pass-1
if e2e_wait_connect c3 20; then
    pushed c3 | grep -q "route 10.50.0.0 255.255.0.0" \
        || e2e_soft_fail "after the SIGHUP alice's route was not pushed"
    e2e_log "ok: after the SIGHUP alice connects with her config"
else
    e2e_soft_fail "after the SIGHUP alice did not connect: $E2E_WHY"
fi
e2e_stop c3
errs=$(limit_errors)
[ -z "$errs" ] || e2e_soft_fail "after the SIGHUP a thread failed under LimitNPROC=10: $errs"
grep "PLUGIN ovp-auth-ldap" "$E2E_DIR/server.log" | grep -q -e Alice-Pass-1 -e Bob-Pass-2 -e Svc-Pass-9 \
    && e2e_soft_fail "a password reached the log"
e2e_finish
e2e_log "ok: ovp-auth-ldap with deferred client-connect fits Debian's unit limits"
